"""Cards that say what made an output: the dataset card of `flames export` (flames.export) and the model card the
train stage writes next to the trained student. Both are Hugging Face cards (README.md: YAML metadata, then
markdown), so a folder pushed to the hub shows them as they are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import flames
from flames.keys import key_slice

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # org/name: what card metadata may name as a model or dataset
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")  # a hub licence id (mit, apache-2.0, cc-by-sa-4.0)
EXPORT_MARK = "written by `flames export`"  # a folder whose card says so may be replaced by a new export
# The stages whose output has passed through each model or setting (what a card names).
SOLVED = ("solve", "solution_qc", "mix")
QCED = ("solution_qc", "mix")


def agent_targets(cfg: Any) -> dict[str, str]:
    """The mixture's agents: label -> class (none for mixture=external)."""
    m = cfg.mixture
    if m.get("dataset"):
        return {}
    if m.name == "single":
        return {cfg.agent.name: cfg.agent._target_}
    return {name: m.agents[name]._target_ for name in m.weights}


def card_license(cfg: Any) -> str:
    """The seeds' licence as a hub licence id; `other` when it is free text or not stated."""
    lic = str(cfg.seeds.get("license") or "").strip().lower()
    return lic if LICENSE_ID.match(lic) else "other"


def seeds_line(cfg: Any) -> str:
    s = cfg.seeds
    source = s.get("dataset") or ", ".join(Path(f).name for f in [*([s.path] if s.path else []), *s.files]) \
        or f"{s.builtin_count} built-in arithmetic problems"
    limit = f", at most {s.limit}" if s.limit else ""
    return f"{s.get('name') or 'files'}: {source}{limit} (licence: {s.get('license') or 'not stated; set seeds.license'})"


def model_line(model: Any) -> str:
    return f"{model.name} (backend {model.get('backend', 'hf')})"


def strategy_name(strategy: Any) -> str:
    """A QC strategy as its class and settings: `Majority(min_votes=2)`."""
    if not hasattr(strategy, "get"):
        return str(strategy)
    knobs = {k: v for k, v in key_slice(strategy).items() if k != "_target_"}
    args = ", ".join(f"{k}={v}" for k, v in knobs.items())
    return f"{str(strategy.get('_target_', '?')).rsplit('.', 1)[-1]}" + (f"({args})" if args else "")


def provenance(cfg: Any, stage: str, agents: dict[str, str]) -> list[tuple[str, str]]:
    """(what, which) rows of a dataset card's table: the agents and their classes, models, QC, mixture, seeds."""
    rows = [("agents", ", ".join(f"{label} (`{target}`)" for label, target in agents.items()) or "none")]
    if agents:
        rows.append(("problem model", model_line(cfg.problem_model)))
    if agents and stage in SOLVED:
        rows.append(("solution model", f"{model_line(cfg.solution_model)}, {cfg.solve.num_samples} samples per problem"))
    if agents and stage in QCED:
        fixed = f", fixed size {cfg.qc.fixed_size}" if cfg.qc.fixed_size else ""
        rows.append(("solution QC", f"`{strategy_name(cfg.qc.strategy)}`{fixed}"))
    if stage == "mix":
        m = cfg.mixture
        what = m.dataset if m.get("dataset") else ", ".join(f"{a} {w}" for a, w in (dict(m.weights) or {
            label: 1.0 for label in agents}).items())
        rows.append(("mixture", f"{m.name}: {what}, budget {m.get('budget') or 'all'}"))
    if agents:
        rows.append(("seeds", seeds_line(cfg)))
    return rows


def dataset_card(cfg: Any, stage: str, parts: dict[str, dict], agents: dict[str, str], command: str) -> str:
    """The README.md of an export: metadata (licence, one config per part), what made it, counts, the config.
    `parts`: config name -> {"key": store key, "rows": count, "path": parquet path in the folder, "taken": ...}."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(
        license=card_license(cfg), tags=["flames", "synthetic", "math"], pretty_name=f"flames {stage}",
        configs=[{"config_name": name, "data_files": [{"split": "train", "path": p["path"]}]}
                 for name, p in parts.items()])
    table = "\n".join(f"| {what} | {which} |" for what, which in provenance(cfg, stage, agents))
    counts = "\n".join(f"| {name} | `{stage}/{p['key']}` | {p['rows']} |" for name, p in parts.items())
    taken = next((p["taken"] for p in parts.values() if p.get("taken")), None)
    by_agent = ("\n\nRows by source: " + ", ".join(f"{a} {n}" for a, n in taken.items()) + ".") if taken else ""
    body = f"""
# flames {stage}: {cfg.experiment}

The `{stage}` artifact of a [flames](https://arxiv.org/abs/2508.16514) run (flames {flames.__version__}),
{EXPORT_MARK}: `{command}`. Each config below is one artifact of the store, as that run reads it.

| | |
|---|---|
{table}

## Counts

| config | store key | rows |
|---|---|---|
{counts}{by_agent}

## Files

`<config>/train.parquet` (what `datasets.load_dataset` reads from this folder or the hub) and `saved/<config>/`
(`datasets.load_from_disk`). Nested fields (`intermediate`, `qc`, `solutions`, ...) are JSON text.

## Licence

The seeds' licence is `{cfg.seeds.get('license') or 'not stated'}`. The problems and solutions were written by the
models above: their terms of use apply too.

## Config

```yaml
{OmegaConf.to_yaml(cfg, resolve=True).strip()}
```
"""
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def model_card(cfg: Any, mix: Any, metrics: dict) -> str:
    """The README.md of a trained student: base model, the mixture it was trained on (store key, sources and
    counts), its hyperparameters and how its checkpoint was chosen."""
    from huggingface_hub import ModelCard, ModelCardData

    student, manifest = cfg.student, mix.manifest()
    taken = manifest.get("metrics", {}).get("taken", {})
    base = student.name if HUB_ID.match(student.name) and not Path(student.name).exists() else None
    data = ModelCardData(base_model=base, library_name="transformers", license=card_license(cfg),
                         tags=["flames", "math", "sft"], pipeline_tag="text-generation")
    hyper = {k: v for k, v in key_slice(student).items() if k not in ("name", "extra") and v is not None}
    hyper.update(key_slice(student.extra) or {})
    chosen = f"checkpoint `{metrics['selected']}` (selection={student.selection})" if metrics.get("selected") \
        else "the last checkpoint (selection=last)"
    sources = ", ".join(f"{a} {n}" for a, n in taken.items()) or "none"
    lines = "\n".join(f"| `{k}` | {v} |" for k, v in hyper.items())
    body = f"""
# flames student: {cfg.experiment}

`{student.name}` fine-tuned (SFT, loss on the solution) by [flames](https://arxiv.org/abs/2508.16514)
{flames.__version__} on the mixture `mix/{mix.key}`: {manifest.get('records_out', '?')} rows ({sources});
{metrics.get('examples', '?')} examples fit `max_length`. This model is {chosen}.

## Data

| | |
|---|---|
{chr(10).join(f"| {what} | {which} |" for what, which in provenance(cfg, "mix", agent_targets(cfg)))}

`flames export=mix` with this run's overrides writes that mixture as a dataset, with its own card.

## Hyperparameters

| | |
|---|---|
{lines}
| global batch | {metrics.get("global_batch", "?")} (processes: {metrics.get("processes", 1)}) |
| solve prompt | {cfg.solve.prompt!r} |
"""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))
