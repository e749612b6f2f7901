"""train: fine-tune the student on the mixture, then choose a checkpoint (student.selection)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from flames import llm as llm_mod
from flames.cards import model_card
from flames.config import SELECTIONS, ConfigError
from flames.evaluate import evaluate
from flames.grading import DEFAULT_MODE
from flames.jsonl import read_jsonl
from flames.keys import text_fingerprint
from flames.llm.embedded import resolve_model_path
from flames.stages.base import Job, Stage
from flames.stages.evaluate import eval_model, eval_sampling
from flames.train import checkpoint_folders, train, trained_model
from flames.train.plan import describe, make_plan, process_count
from flames.train.run import DEV_FILE, SPEC_FILE




class Train(Stage):
    def fingerprints(self, job, inputs):
        # Checkpoint selection scores with the benchmarks' prompt and token budget, on their (limited) items.
        b, selection = job.cfg.benchmarks, job.cfg.student.selection
        if selection == "last":
            return {}
        scoring = {"prompt": b.prompt, "max_new_tokens": b.max_new_tokens}
        if job.cfg.grading.mode != DEFAULT_MODE:  # graded as evaluate grades; keyed away from the default only
            scoring["grading_mode"] = job.cfg.grading.mode
        if selection == "paper":
            wanted = [n for n in job.cfg.student.select_on if n in b.names]  # others are refused when it runs
            scoring["items"] = {**{n: text_fingerprint([]) for n in job.cfg.student.select_on},
                                **job.shared.eval_fingerprints(wanted)}
        return {"selection_scoring": scoring}

    def dry_run(self, cfg: DictConfig) -> str:
        """The command a cluster job of this stage runs, and the batch layout (distributed.dry_run)."""
        dist = cfg.distributed
        plan = make_plan(cfg.student, process_count(dist, self.resources(cfg).gpus))
        return describe(plan, cfg.student, dist, Path(cfg.paths.store) / "train" / "<key>" / SPEC_FILE)

    def run(self, job, inputs, out):
        cfg, student = job.cfg, job.cfg.student
        if student.selection not in SELECTIONS:
            raise ConfigError(f"student.selection={student.selection!r}: one of {', '.join(SELECTIONS)}")
        if student.selection == "paper":
            selection_items(job, out)  # a benchmark missing from the suite fails before training, not after
        llm_mod.release(job.ctx)  # free generation models before training
        metrics = train(inputs["mixture"].data, out, resolve_model_path(student.name), student, cfg.solve.prompt,
                        cfg.distributed, process_count(cfg.distributed), job.shared.train_log)
        if student.selection != "last" and "skipped" not in metrics:
            metrics.update(select_checkpoint(job, out))
        if "skipped" not in metrics:  # the model card, next to the model the run evaluates (and a user pushes)
            (Path(trained_model(out, metrics)) / "README.md").write_text(model_card(cfg, inputs["mixture"], metrics))
        return metrics


def selection_items(job: Job, out: Path) -> dict[str, list[dict]]:
    """What checkpoints are scored on: the select_on test benchmarks (paper) or the held-out dev rows."""
    if job.cfg.student.selection == "dev":
        return {"dev": list(read_jsonl(out / DEV_FILE))}
    names, wanted = list(job.cfg.benchmarks.names), list(job.cfg.student.select_on)
    missing = sorted(set(wanted) - set(names))
    if missing:
        raise ConfigError(f"student.select_on: {missing} not in benchmarks.names {sorted(names)}")
    return job.shared.eval_items(wanted)


def select_checkpoint(job: Job, out: Path) -> dict:
    """Score every checkpoint (mean accuracy over the selection items, greedy) and choose the best.

    selection=paper scores on test benchmarks, as the paper did: the chosen model has seen its test
    set's verdicts. Ties go to the later checkpoint.
    """
    items, scored = selection_items(job, out), []
    for folder in checkpoint_folders(out):
        metrics = evaluate(items, out / "selection" / folder.name, eval_model(job, str(folder)),
                           eval_sampling(job), job.cfg.benchmarks.prompt, mode=job.cfg.grading.mode,
                           retry=job.ctx.retry)
        llm_mod.release(job.ctx)
        scores = {name: metrics[name]["accuracy"] for name in items}
        scored.append({"step": int(folder.name.split("-")[-1]), "folder": f"checkpoints/{folder.name}",
                       "scores": scores, "score": sum(scores.values()) / len(scores)})
    best = max(reversed(scored), key=lambda c: c["score"])  # reversed: max keeps the first, the latest
    return {"checkpoints": scored, "selected": best["folder"], "selected_step": best["step"],
            "selected_score": best["score"], "selection": job.cfg.student.selection}
