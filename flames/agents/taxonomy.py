"""Math topic taxonomies for `taxonomy_key_concepts`: load one as a tree of names, sample topic paths.

A taxonomy is a tree `{name: subtree}`; a leaf is an empty dict. A topic path is the list of names
from an area down to a leaf, e.g. ["Algebra", "Quadratic equations"].

Sources (config key `taxonomy`):
- `builtin`: flames/agents/taxonomies/builtin.json, written by this project (school/college math);
- `ccssm`: the Common Core standards, `<taxonomy_dir>/ccssm/ccssm_standards.jsonl` (`taxonomy_dir`
  defaults to $FLAMES_DATA_DIR/taxonomy);
- `msc2020`: the Mathematics Subject Classification, `<taxonomy_dir>/msc2020/msc2020_tree.json`;
- any other value: a path to a JSON file in the built-in's format (nested objects and lists,
  optionally wrapped as {"topics": ...});
- a combination, names joined by `+` (`ccssm+msc2020`, experiment=paper's): one tree whose roots are the
  taxonomies, so the top-down sampling gives each an equal share of topics.
The FLAMES paper's own merged taxonomy was not available (see ../shared/data/SOURCES.md): "a curated
combination of several math taxonomies" is all it says. Our reading is CCSSM (school mathematics, GSM8K/MATH
level) with MSC2020 (college and research areas, towards CollegeMath and OlympiadBench), half the topics each.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

BUILTIN = Path(__file__).parent / "taxonomies" / "builtin.json"
Tree = dict  # name -> Tree; {} is a leaf


# The root each taxonomy gets in a combination (its name shows in the topic path the prompt gives the model).
COMBINED_ROOTS = {"builtin": "Mathematics", "ccssm": "School mathematics (Common Core)",
                  "msc2020": "Mathematics Subject Classification"}


def load_taxonomy(name: str, taxonomy_dir: str | None = None) -> Tree:
    """The tree a config names (`builtin`, `ccssm`, `msc2020`, a JSON file path, or several joined by `+`)."""
    if "+" in name:
        return {COMBINED_ROOTS.get(part, Path(part).stem): load_taxonomy(part, taxonomy_dir)
                for part in name.split("+")}
    if name in ("ccssm", "msc2020"):
        return (ccssm_tree if name == "ccssm" else msc2020_tree)(real_taxonomy_dir(name, taxonomy_dir))
    data = _read_json(BUILTIN if name == "builtin" else Path(name))
    return tree_from_json(data["topics"] if isinstance(data, dict) and "topics" in data else data)


def real_taxonomy_dir(name: str, taxonomy_dir: str | None) -> Path:
    """`taxonomy_dir`, or $FLAMES_DATA_DIR/taxonomy (as benchmarks default to $FLAMES_DATA_DIR)."""
    if taxonomy_dir:
        return Path(taxonomy_dir)
    if os.environ.get("FLAMES_DATA_DIR"):
        return Path(os.environ["FLAMES_DATA_DIR"]) / "taxonomy"
    raise ValueError(f"taxonomy={name} needs a data folder: set FLAMES_DATA_DIR or agent.taxonomy_dir "
                     "(see ../shared/data/SOURCES.md)")


def _existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} (set agent.taxonomy_dir or FLAMES_DATA_DIR; "
                                "see ../shared/data/SOURCES.md)")
    return path


def _read_json(path: Path) -> Any:
    return json.loads(_existing(path, "taxonomy file").read_text(encoding="utf-8"))


def tree_from_json(data: Any) -> Tree:
    """A nested JSON taxonomy as a tree. Accepts {name: subtree}, lists of names, and lists of
    {"label"|"name": ..., "children": [...]} nodes (the shape of msc2020_tree.json)."""
    if isinstance(data, str):
        return {data.strip(): {}}
    if isinstance(data, dict) and ("label" in data or "name" in data):
        return {str(data.get("label") or data["name"]).strip(): tree_from_json(data.get("children") or [])}
    tree: Tree = {}
    items = data.items() if isinstance(data, dict) else ((None, x) for x in data)
    for key, sub in items:
        if key is None:
            _merge(tree, tree_from_json(sub))
        else:
            tree[str(key).strip()] = tree_from_json(sub) if sub else {}
    return tree


def _merge(into: Tree, other: Tree) -> None:
    for name, sub in other.items():
        _merge(into.setdefault(name, {}), sub)


def ccssm_tree(taxonomy_dir: Path) -> Tree:
    """Common Core: grade (or high-school category) -> domain -> standard text."""
    path = _existing(taxonomy_dir / "ccssm" / "ccssm_standards.jsonl", "CCSSM standards")
    tree: Tree = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        grade = row["grade"]
        level = ("Kindergarten" if grade == "K" else f"Grade {grade}" if grade != "HS"
                 else f"High school {row.get('category_name') or ''}".strip())
        tree.setdefault(level, {}).setdefault(row["domain_name"], {})[row["description"].strip()] = {}
    return tree


# MSC2020 entries that name a kind of publication or a catch-all, not a topic: "-00" .. "-11"
# form codes (textbooks, proceedings, software, ...), "None of the above" (xx99), and the
# sections 00 (general) and 01 (history and biography). Our choice (the paper's is NOT FOUND):
# also skip the natural-science sections 74-86 (continuum mechanics ... geophysics) and 92
# (biology), whose topics led the model to science questions ("What is the structure of DNA?").
_MSC_FORM = re.compile(r"^\d\d-\d\d$|^\d\d[A-Z]99$")
_MSC_SKIP_SECTIONS = ("00-", "01-", "74-", "76-", "78-", "80-", "81-", "82-", "83-", "85-", "86-", "92-")
# classification notes inside a label: "(should also be assigned ...)", "(except as in 16Kxx)", "{For ..., see 91A35]"
_MSC_NOTE = re.compile(r"\s*[({](should also be assigned[^)]*|[^(){}\]]*\b\d\d[A-Z-](xx|XX|\d\d)\b[^(){}\]]*)[)\]]")


def msc2020_tree(taxonomy_dir: Path) -> Tree:
    """MSC2020: section -> subsection -> subject (labels), without form codes and catch-alls."""
    path = _existing(taxonomy_dir / "msc2020" / "msc2020_tree.json", "MSC2020 tree")
    roots = json.loads(path.read_text(encoding="utf-8"))
    return {_msc_label(node): _msc_children(node) for node in roots
            if not node["code"].startswith(_MSC_SKIP_SECTIONS)}


def _msc_children(node: dict) -> Tree:
    children: Tree = {}
    for child in node.get("children") or []:
        if _MSC_FORM.match(child["code"]):
            continue
        sub = _msc_children(child)
        if _msc_label(child) == _msc_label(node):  # "44Axx Integral transforms" under "44-XX Integral transforms"
            _merge(children, sub)
        else:
            _merge(children, {_msc_label(child): sub})
    return children


def _msc_label(node: dict) -> str:
    """The label without classification notes ("(should also be assigned ...)")."""
    return _MSC_NOTE.sub("", node["label"]).strip()


def leaf_paths(tree: Tree, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every path from an area to a leaf."""
    paths = []
    for name, sub in tree.items():
        paths.extend(leaf_paths(sub, prefix + (name,)) if sub else [list(prefix + (name,))])
    return paths


def sample_paths(tree: Tree, count: int, seed: int) -> list[list[str]]:
    """`count` topic paths, deterministic per `seed`: a uniform choice at each level, top-down.

    Top-down (not uniform over leaves) so that an area with many subjects (MSC's 281 for partial
    differential equations) does not crowd out a small one; how FLAMES sampled is NOT FOUND.
    """
    if not tree:
        raise ValueError("the taxonomy is empty")
    rng = random.Random(seed)
    return [_sample_path(tree, rng) for _ in range(count)]


def _sample_path(tree: Tree, rng: random.Random) -> list[str]:
    path = []
    while tree:
        name = rng.choice(sorted(tree))
        path.append(name)
        tree = tree[name]
    return path
