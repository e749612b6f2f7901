"""`flames export=<stage>`: this config's artifact of a stage, written as a Hugging Face dataset.

The config composes as for a run, and the pipeline plans it up to that stage (`Pipeline.plan`, as
`flames dry_run=true` does): `flames export=mix qc=majority` writes the mix that `flames qc=majority` trains on,
and refuses (naming the command that makes it) when the store does not hold it. A pool is written as the run
reads it (its view: `agent.num_problems` problems, `solve.num_samples` samples). Each part (the mix; one per agent
for the per-agent stages) becomes a config of the dataset folder:

    <dir>/README.md                 the dataset card (flames.cards): what made it, counts, the config
    <dir>/<config>/train.parquet    what `datasets.load_dataset(<dir>)` (or the hub, once pushed) reads
    <dir>/saved/<config>/           `Dataset.save_to_disk`, for `datasets.load_from_disk`

`export.push_to_hub=<repo id>` uploads the folder (without saved/). docs/export.md.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flames.cards import EXPORT_MARK, agent_targets, dataset_card
from flames.config import ConfigError
from flames.keys import text_fingerprint
from flames.pipeline import Pipeline, StageResult
from flames.views import in_view, merge_samples

log = logging.getLogger(__name__)
SAVED = "saved"  # the save_to_disk copies, under the dataset folder (not pushed: the hub reads the parquet)


def export(cfg: DictConfig, overrides: list[str]) -> str:
    """Write the artifact(s) of `export.stage` for this config; what was written, for the terminal."""
    stage, run_args = cfg.export.stage, [o for o in overrides if not o.lstrip("+~").startswith("export")]
    pipeline = Pipeline(up_to(cfg, stage))
    found = exported(pipeline.plan(), stage, cfg.export.agent, run_args)
    parts = {r.label or "default": view_rows(r, pipeline) for r in found}
    folder = target_folder(cfg, stage, found)
    meta = write_parts(parts, folder)
    for name, r in zip(parts, found):
        meta[name]["key"] = r.artifact.key
        meta[name]["taken"] = r.manifest.get("metrics", {}).get("taken") if stage == "mix" else None
    command = " ".join(["flames", *overrides])
    (folder / "README.md").write_text(dataset_card(cfg, stage, meta, agent_targets(cfg), command))
    if cfg.export.push_to_hub:
        push(folder, cfg.export.push_to_hub, cfg.export.private)
    rows = ", ".join(f"{name} {m['rows']}" for name, m in meta.items())
    pushed = f"; pushed to https://huggingface.co/datasets/{cfg.export.push_to_hub}" if cfg.export.push_to_hub else ""
    return f"Exported {stage} ({rows} rows) to {folder}{pushed}"


def up_to(cfg: DictConfig, stage: str) -> DictConfig:
    """The config planned only up to the exported stage (what follows it is not looked up)."""
    return OmegaConf.merge(cfg, {"stage": stage})


def exported(planned: list[StageResult], stage: str, agent: str | None, run_args: list[str]) -> list[StageResult]:
    """The stage's planned artifacts (the one agent's, with export.agent); a missing one is named with its command."""
    found = [r for r in planned if r.stage == stage]
    labels = [r.label for r in found]
    if agent is not None:
        if agent not in labels:
            raise ConfigError(f"export.agent={agent}: not an agent of this config's {stage} "
                              f"({', '.join(labels) or 'none: mixture=external runs no agent'})")
        found = [r for r in found if r.label == agent]
    if not found:
        raise ConfigError(f"export={stage}: this config has no {stage} artifact (mixture=external runs no agent)")
    for r in found:
        if not r.reused:  # not complete, or a pool smaller than this config's view
            name = f"{stage}[{r.label}]" if r.label else stage
            raise FileNotFoundError(f"export: {name} of this config is not in the store ({r.artifact.path}); "
                                    f"make it with: {' '.join(['flames', f'stage={stage}', *run_args])}")
    return found


def view_rows(r: StageResult, pipeline: Pipeline) -> list[dict]:
    """An artifact's records as the run reads them: the mix whole, a pool's view (flames.views)."""
    rows = r.artifact.records()
    if r.stage == "mix":
        return list(rows)
    if r.stage == "solve":
        rows = merge_samples(rows, pipeline.cfg.solve.num_samples)
    return [row for row in rows if in_view(row, pipeline.sizes[r.label].view)]


def target_folder(cfg: DictConfig, stage: str, found: list[StageResult]) -> Path:
    """export.dir, or <outputs>/exports/<stage>-<key> (several agents: a hash of their keys); emptied when it holds
    an earlier export, refused when it holds anything else."""
    key = found[0].artifact.key if len(found) == 1 else text_fingerprint(sorted(r.artifact.key for r in found))
    folder = Path(cfg.export.dir or Path(cfg.paths.outputs) / "exports" / f"{stage}-{key}").expanduser()
    if folder.exists() and any(folder.iterdir()):
        card = folder / "README.md"
        if not (card.is_file() and EXPORT_MARK in card.read_text()):
            raise ConfigError(f"export.dir: {folder} is not empty and holds no flames export; choose another folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # a stub card first (the real one comes last): a killed export's folder is one the next export may replace
    (folder / "README.md").write_text(f"{EXPORT_MARK} (in progress)\n")
    return folder


def write_parts(parts: dict[str, list[dict]], folder: Path) -> dict[str, dict]:
    """Each part as <config>/train.parquet and saved/<config>/; config name -> its rows and parquet path."""
    meta = {}
    for name, rows in parts.items():
        ds = as_dataset(rows)
        path = f"{name}/train.parquet"
        (folder / name).mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(folder / path))
        ds.save_to_disk(str(folder / SAVED / name))
        meta[name] = {"rows": len(rows), "path": path}
    return meta


def as_dataset(rows: list[dict]) -> Any:
    """Records as a `datasets.Dataset`: every field any record has (None where one lacks it); a field holding
    mappings or nested lists (intermediate, qc, solutions), or values of several types, as JSON text, since an
    agent's records differ in their shape (and parquet holds no empty struct)."""
    import datasets

    datasets.disable_progress_bars()  # one line per export, not a bar per file
    columns = list(dict.fromkeys(k for row in rows for k in row))
    encoded = {c for c in columns if needs_json([row.get(c) for row in rows])}
    data = {c: [encode(row.get(c)) if c in encoded else row.get(c) for row in rows] for c in columns}
    return datasets.Dataset.from_dict(data)


def needs_json(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    nested = any(isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v))
                 for v in present)
    return nested or len({type(v) for v in present}) > 1


def encode(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def push(folder: Path, repo: str, private: bool) -> None:
    """Upload the dataset folder to the hub repo (created when missing); saved/ stays local."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset", ignore_patterns=[f"{SAVED}/*"],
                      commit_message=f"flames export: {folder.name}")
    log.info("pushed %s to the hub dataset %s", folder, repo)
