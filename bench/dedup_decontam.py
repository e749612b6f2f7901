"""Benchmark problem QC at scale: exact dedup, MinHash near-dup, decontamination.

    python bench/dedup_decontam.py            # 1,000,000 problems
    python bench/dedup_decontam.py --n 50000  # quick

Builds N synthetic problems from the real seeds (sentences of GSM8K/MATH train problems
recombined, every number redrawn), with known near-duplicate pairs (a copy of an
earlier problem with 0-6 word edits plus formatting noise) and planted benchmark
copies (a test problem, verbatim / with formatting edits / with one word changed /
with one word inserted or deleted, between synthetic sentences). Times each step with
all CPUs, and reports:
- near-dup recall and precision at Jaccard >= 0.8, against exact Jaccard of word
  5-gram sets computed here independently (on the planted pairs for recall, on every
  reported pair for precision);
- the catch rate of planted benchmark copies per edit kind and decontamination mode
  (paper, near_copy = the pipeline default, ngram13), and the other flags;
- the flags each mode raises on the real GSM8K/MATH train problems (the seeds), which
  are not copies of test problems except for a few known MATH train/test duplicates;
- a plain datasketch baseline (MinHash.bulk + MinHashLSH(threshold=0.8), default
  parameters, no verification) on a subsample, extrapolated to N.
Data: $FLAMES_DATA_DIR or <repo>/../shared/data (seeds/, benchmarks/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flames.qc import find_contamination, find_duplicates, tokenize  # noqa: E402
from flames.qc._parallel import available_cpus  # noqa: E402
from flames.qc.decontam import NgramIndex  # noqa: E402

THRESHOLD = 0.8
NGRAM = 5
_SENT = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")
_NUM = re.compile(r"\d+")
_WORD = re.compile(r"[A-Za-z]+")


def data_dir() -> Path:
    env = os.environ.get("FLAMES_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def read_problems(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ------------------------------------------------------------------ corpus


class Generator:
    """Synthetic problems from seed sentences, with every number redrawn."""

    def __init__(self, seeds: list[str], rng: random.Random) -> None:
        sents = [s for t in seeds for s in _SENT.split(t) if 20 <= len(s) <= 250]
        self.statements = [s for s in sents if not s.endswith("?")]
        self.questions = [s for s in sents if s.endswith("?")]
        self.words = sorted({w.lower() for s in sents[:20000] for w in _WORD.findall(s) if len(w) > 2})
        self.rng = rng

    def _renumber(self, s: str) -> str:
        r = self.rng
        return _NUM.sub(lambda m: str(r.randint(2, 10 ** min(len(m.group()) + 1, 5))), s)

    def problem(self) -> str:
        r = self.rng
        parts = r.sample(self.statements, r.randint(2, 3)) + [r.choice(self.questions)]
        return " ".join(self._renumber(p) for p in parts)

    def sentences(self, k: int) -> str:
        return " ".join(self._renumber(s) for s in self.rng.sample(self.statements, k))

    def word_edits(self, text: str, k: int) -> str:
        """k random word substitutions / deletions / insertions."""
        words = text.split(" ")
        r = self.rng
        for _ in range(k):
            i = r.randrange(len(words))
            op = r.random()
            if op < 0.5:
                words[i] = r.choice(self.words)
            elif op < 0.75 and len(words) > 3:
                del words[i]
            else:
                words.insert(i, r.choice(self.words))
        return " ".join(words)


_UNICODE = {"0": "\uff10", "1": "\uff11", "2": "\uff12", "-": "\u2212", " ": "\u00a0"}


def formatting_noise(text: str, rng: random.Random) -> str:
    """Edits that change the string but not its tokens: case, spacing, punctuation, Unicode."""
    out = []
    for k, ch in enumerate(text):
        x = rng.random()
        if ch == " " and x < 0.05:
            out.append(rng.choice(["  ", "\n", "\u00a0"]))
        elif ch in ",.;" and x < 0.3 and text[k + 1 : k + 2] in ("", " "):  # sentence punctuation, not 2.5
            out.append(rng.choice([",", ";", ".", ""]))
        elif ch in _UNICODE and x < 0.1:
            out.append(_UNICODE[ch])
        else:
            out.append(ch)
    s = "".join(out)
    return s.upper() if rng.random() < 0.1 else (s[:1].lower() + s[1:] if rng.random() < 0.5 else s)


def one_word_changed(text: str, rng: random.Random) -> str:
    """Replace one alphabetic word (not inside TeX) with another word."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.isalpha() and "$" not in w]
    if not idx:
        return text + " Explain."
    i = rng.choice(idx)
    words[i] = "banana" if words[i].lower() != "banana" else "cherry"
    return " ".join(words)


def word_indel(text: str, rng: random.Random) -> str:
    """Insert one word, or delete one alphabetic word (not inside TeX)."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.isalpha() and "$" not in w]
    if idx and rng.random() < 0.5:
        del words[rng.choice(idx)]
    else:
        words.insert(rng.randrange(len(words) + 1), "banana")
    return " ".join(words)


KINDS = ("verbatim", "formatting", "one_word", "word_indel")


def build_corpus(n: int, seeds: list[str], refs: list[str], rng: random.Random, near_share: float, planted: int):
    """Texts plus ground truth: planted near-dup pairs and planted benchmark copies."""
    gen = Generator(seeds, rng)
    n_near = int(n * near_share)
    n_base = n - n_near - planted
    texts = [gen.problem() for _ in range(n_base)]
    near_pairs = []  # (source index, variant index, word edits)
    for _ in range(n_near):
        src = rng.randrange(len(texts))
        k = rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4, 6])
        near_pairs.append((src, len(texts), k))
        texts.append(formatting_noise(gen.word_edits(texts[src], k), rng))
    plants = []  # (text index, reference index, kind)
    for p in range(planted):
        ref = rng.randrange(len(refs))
        kind = KINDS[p % len(KINDS)]
        body = refs[ref]
        if kind == "formatting":
            body = formatting_noise(body, rng)
        elif kind == "one_word":
            body = one_word_changed(body, rng)
        elif kind == "word_indel":
            body = word_indel(body, rng)
        plants.append((len(texts), ref, kind))
        texts.append(
            f"{gen.sentences(rng.randint(1, 2))} {body} {gen.sentences(1) if rng.random() < 0.5 else ''}".strip()
        )
    # Shuffle so pairs and plants are spread through the corpus (a variant may now come first).
    perm = list(range(len(texts)))
    rng.shuffle(perm)
    where = {old: new for new, old in enumerate(perm)}
    texts = [texts[old] for old in perm]
    near_pairs = [(where[a], where[b], k) for a, b, k in near_pairs]
    plants = [(where[i], r, kind) for i, r, kind in plants]
    return texts, near_pairs, plants


# ------------------------------------------------------------------ ground truth


def shingle_set(text: str) -> set:
    toks = tokenize(text)
    if len(toks) < NGRAM:
        return {tuple(toks)} if toks else set()
    return {tuple(toks[i : i + NGRAM]) for i in range(len(toks) - NGRAM + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingle_set(a), shingle_set(b)
    if not x and not y:
        return 1.0
    return len(x & y) / len(x | y)


def dedup_quality(texts, dup, pairs):
    """Recall: share of true pairs (J >= t) that no longer both survive.
    Precision: share of reported (i, dup[i]) pairs with true J >= t."""
    true_pairs = [(a, b) for a, b, _ in pairs if jaccard(texts[a], texts[b]) >= THRESHOLD]
    resolved = sum(1 for a, b in true_pairs if dup[a] is not None or dup[b] is not None)
    reported = [(i, j) for i, j in enumerate(dup) if j is not None]
    good = sum(1 for i, j in reported if jaccard(texts[i], texts[j]) >= THRESHOLD)
    recall = resolved / len(true_pairs) if true_pairs else float("nan")
    precision = good / len(reported) if reported else float("nan")
    return recall, precision, len(true_pairs), len(reported)


# ------------------------------------------------------------------ baseline


def datasketch_baseline(texts):
    """Plain datasketch: MinHash.bulk over 5-gram strings + MinHashLSH(threshold=0.8), defaults."""
    from datasketch import MinHash, MinHashLSH

    shingles = [[" ".join(s).encode() for s in shingle_set(t)] for t in texts]
    sigs = MinHash.bulk(shingles, num_perm=128)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=128)
    dup = [None] * len(texts)
    with lsh.insertion_session() as session:
        for i, m in enumerate(sigs):
            session.insert(i, m, check_duplication=False)
    for i, m in enumerate(sigs):
        earlier = sorted(j for j in lsh.query(m) if j < i and dup[j] is None)
        if earlier:
            dup[i] = earlier[0]  # no verification: the LSH candidate is the answer
    return dup, (lsh.b, lsh.r)


def subsample(texts, pairs, size, rng):
    """`size` texts in corpus order, holding whole planted pairs at the corpus' density."""
    chosen_pairs = rng.sample(pairs, min(len(pairs), round(len(pairs) * size / len(texts))))
    keep = {i for a, b, _ in chosen_pairs for i in (a, b)}
    others = [i for i in rng.sample(range(len(texts)), min(len(texts), 2 * size)) if i not in keep]
    keep.update(others[: max(0, size - len(keep))])
    order = sorted(keep)
    where = {old: new for new, old in enumerate(order)}
    sub_pairs = [(where[a], where[b], k) for a, b, k in pairs if a in where and b in where]
    return [texts[i] for i in order], sub_pairs


# ------------------------------------------------------------------ main


def timed(label, fn, n, rows):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    rows.append((label, dt, n / dt if dt else float("inf")))
    print(f"  {label:<58} {dt:8.1f} s {n / dt:>10,.0f} docs/s", flush=True)
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="number of synthetic problems")
    ap.add_argument("--near-share", type=float, default=0.1, help="share of texts that are planted near-duplicates")
    ap.add_argument("--planted", type=int, default=4000, help="planted benchmark copies (1/4 per edit kind)")
    ap.add_argument("--baseline-n", type=int, default=100_000, help="subsample for the datasketch baselines")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: the idle CPUs, as the library)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    root = data_dir()
    seed_sets = {f: [r["problem"] for r in read_problems(root / "seeds" / f"{f}.jsonl")]
                 for f in ("gsm8k_train", "math_train")}
    seeds = [p for items in seed_sets.values() for p in items]
    bench_files = sorted((root / "benchmarks").glob("*.jsonl"))
    refs, ref_names = [], []
    for f in bench_files:
        for r in read_problems(f):
            refs.append(r["problem"])
            ref_names.append(f.stem)
    rng = random.Random(args.seed)
    print(
        f"machine: {platform.machine()}, {available_cpus()} CPUs, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    t0 = time.perf_counter()
    texts, pairs, plants = build_corpus(args.n, seeds, refs, rng, args.near_share, args.planted)
    words = sum(len(t.split()) for t in texts[:10000]) / min(len(texts), 10000)
    print(
        f"corpus: {len(texts):,} problems (~{words:.0f} words each), {len(pairs):,} planted near-dup pairs, "
        f"{len(plants):,} planted benchmark copies; {len(refs):,} benchmark problems in {len(bench_files)} files "
        f"[built in {time.perf_counter() - t0:.0f} s]"
    )

    rows = []
    n = len(texts)
    print(f"\nsteps on N={n:,} (workers: {args.workers or 'auto = idle CPUs'}; exact dedup is one process):")
    exact, t_exact = timed("exact dedup (normalized text)", lambda: find_duplicates(texts), n, rows)
    st, s8, snc, s13 = {}, {}, {}, {}
    near, t_near = timed(
        "near-dup MinHash rensa J>=0.8 (b=16 r=8) + exact verify",
        lambda: find_duplicates(texts, THRESHOLD, backend="rensa", workers=args.workers, stats=st),
        n,
        rows,
    )
    idx, t_idx = timed(
        "decontam index build (8-grams, all benchmarks)", lambda: NgramIndex.build(refs, 8), len(refs), rows
    )
    flags, _ = timed(
        "decontam scan, paper mode (>=95% of a test item's 8-grams)",
        lambda: find_contamination(texts, refs, "paper", index=idx, workers=args.workers, stats=s8),
        n,
        rows,
    )
    flags_nc, t_scan = timed(
        "decontam scan, near_copy mode (paper + word edits; default)",
        lambda: find_contamination(texts, refs, "near_copy", index=idx, workers=args.workers, stats=snc),
        n,
        rows,
    )
    flags13, _ = timed(
        "decontam ngram13 (index + scan; not in the total)",
        lambda: find_contamination(texts, refs, "ngram13", workers=args.workers, stats=s13),
        n,
        rows,
    )
    total = t_exact + t_near + t_idx + t_scan
    label = "TOTAL exact + near-dup + near_copy decontam (the default)"
    print(f"  {label:<58} {total:8.1f} s {n / total:>10,.0f} docs/s")
    print(f"  processes used: near-dup {st['workers']}, decontam paper {s8['workers']}, near_copy {snc['workers']}, "
          f"ngram13 {s13['workers']}")

    print(f"\nexact dedup: {sum(x is not None for x in exact):,} duplicates")
    rec, prec, n_true, n_rep = dedup_quality(texts, near, pairs)
    print(
        f"near-dup (ours, rensa, b={st['bands']} r={st['rows']}, exact-Jaccard verification): "
        f"{n_rep:,} duplicates reported, {st['kept_candidates']:,} LSH candidates (earlier, kept), "
        f"{st['checked']:,} verified"
    )
    print(f"  recall {rec:.4f} over {n_true:,} planted pairs with true J>={THRESHOLD}; precision {prec:.4f}")

    modes = {"paper": flags, "near_copy": flags_nc, "ngram13": flags13}
    print("\nplanted benchmark copies caught, per mode:")
    print(f"  {'kind':<11} " + "".join(f"{m:>22}" for m in modes))
    for kind in (*KINDS, "all"):
        sel = [i for i, _, k in plants if kind in (k, "all")]
        counts = [sum(f[i] is not None for i in sel) for f in modes.values()]
        cells = [f"{c:5d}/{len(sel)} = {c / len(sel):.4f}" for c in counts]
        print(f"  {kind:<11} " + "".join(f"{c:>22}" for c in cells))
    planted_idx = {i for i, _, _ in plants}
    for m, f in modes.items():
        wrong = sum(1 for i, r, _ in plants if f[i] is not None and f[i] != r and refs[f[i]] != refs[r])
        other = sum(1 for i, x in enumerate(f) if x is not None and i not in planted_idx)
        print(f"  {m:<10} other flags (no planted copy) {other:7,} ({other / n:.4%}); "
              f"caught copies attributed to another (different-text) reference: {wrong}")
    print(f"  near_copy: {snc.get('flagged_by_edit_rule', 0):,} of its flags come from the edit rule alone")

    print("\nreal train problems (seeds) against all benchmarks, flagged per mode:")
    for name, items in seed_sets.items():
        cells = []
        for m in modes:
            c = sum(f is not None for f in find_contamination(items, refs, m, workers=1))
            cells.append(f"{m} {c} ({c / len(items):.2%})")
        print(f"  {name:<12} {len(items):6,} problems: " + ", ".join(cells))

    # Baselines on a subsample, same run, same data.
    m = min(args.baseline_n, n)
    sub, sub_pairs = subsample(texts, pairs, m, rng)
    print(f"\nsubsample of {m:,} problems ({len(sub_pairs):,} planted pairs inside), one process each:")
    brow = []
    (bdup, params), t_base = timed(
        "datasketch baseline: bulk + MinHashLSH(0.8) defaults, no verify", lambda: datasketch_baseline(sub), m, brow
    )
    ours_ds, t_ds = timed(
        "ours, datasketch backend (b=16 r=8 + verify)",
        lambda: find_duplicates(sub, THRESHOLD, backend="datasketch", workers=1),
        m,
        brow,
    )
    ours_rs, t_rs = timed(
        "ours, rensa backend (b=16 r=8 + verify)",
        lambda: find_duplicates(sub, THRESHOLD, backend="rensa", workers=1),
        m,
        brow,
    )
    for label, d in (
        (f"datasketch baseline (b={params[0]} r={params[1]})", bdup),
        ("ours, datasketch backend", ours_ds),
        ("ours, rensa backend", ours_rs),
    ):
        r_, p_, nt, nr = dedup_quality(sub, d, sub_pairs)
        print(f"  {label:<40} recall {r_:.4f}  precision {p_:.4f}  ({nr:,} reported, {nt:,} true pairs)")
    print(
        f"  datasketch baseline extrapolated to N={n:,}: ~{t_base * n / m:,.0f} s on one core "
        f"(~{t_base * n / m / available_cpus():,.0f} s if it split perfectly over {available_cpus()} cores; "
        f"LSH query cost grows with N, so this is a lower bound)"
    )
    print(f"  ours (rensa) on the full N with {st['workers']} process(es): {t_near:,.0f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    load = os.getloadavg()[0]
    busy = (
        f" (above {available_cpus()}: other jobs shared the CPUs and inflated the times)"
        if load > available_cpus()
        else ""
    )
    print(f"\npeak RSS of the main process: {peak:.1f} GiB; load average at end {load:.1f}{busy}")


if __name__ == "__main__":
    main()
