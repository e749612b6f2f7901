"""Experiment tracking: one W&B run per job (offline by default), or nothing (logger=none).

Logged: the resolved config, every stage's manifest counts namespaced by stage
(`synthesize/paraphrase/records_out`, `eval/gsm8k/accuracy`, ...), the training loss curve,
a table of sample records per stage, and the grader disagreements of an evaluation.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

from flames.benchmarks import paper_average
from flames.evaluate import DISAGREEMENTS
from flames.jsonl import read_jsonl
from flames.parts import find_class

log = logging.getLogger(__name__)

COUNT_KEYS = ("records_in", "records_out", "llm_calls", "requests", "prompt_tokens", "completion_tokens",
              "truncated", "wall_time_s")
SAMPLE_FIELDS = ("id", "agent", "problem", "solution", "answer", "pred", "gold", "correct", "graders")


class NoLogger:
    def __init__(self, *args: Any) -> None: ...

    def log_stage(self, result) -> None: ...

    def log_eval(self, metrics: dict, artifact) -> None: ...

    def log_train(self, history: list[dict]) -> None: ...

    def log_agent_costs(self, rows: list[dict]) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class WandbLogger(NoLogger):
    def __init__(self, cfg: Any, config: dict, run_dir: str, experiment: str):
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.wandb = wandb
        self.sample_rows = cfg.sample_rows
        self.run = wandb.init(project=cfg.project, entity=cfg.entity, mode=cfg.mode, group=cfg.group or experiment,
                              tags=list(cfg.tags), dir=cfg.dir or run_dir, config=config, reinit="finish_previous")
        log.info("W&B run %s (%s) in %s", self.run.id, cfg.mode, self.run.dir)

    def log_stage(self, result) -> None:
        m = result.manifest
        prefix = f"{result.stage}/{result.label}" if result.label else result.stage
        row = {f"{prefix}/{k}": m[k] for k in COUNT_KEYS if m.get(k) is not None}
        row.update({f"{prefix}/dropped/{k}": v for k, v in (m.get("dropped") or {}).items()})
        row.update({f"{prefix}/{k}": v for k, v in (m.get("metrics") or {}).items() if isinstance(v, (int, float))})
        row[f"{prefix}/reused"] = int(result.reused)
        self.run.log(row)
        self.run.summary.update(row)
        if result.stage == "train":
            self.log_selection(m.get("metrics") or {})
            curve = result.artifact.path / "train_log.jsonl"
            if result.reused and curve.exists():  # trained by another job (a study's train task): its curve
                self.log_train(list(read_jsonl(curve)))
        if result.stage == "evaluate":
            self.log_eval(m["metrics"], result.artifact)
        elif result.artifact.data.exists():
            self._table(f"{prefix}/samples", result.artifact.records())

    def log_eval(self, metrics: dict, artifact) -> None:
        row = {} if paper_average(metrics) is None else {"eval/avg": paper_average(metrics)}
        for name, m in metrics.items():
            for k in ("accuracy", "n", "unparseable", "truncated", "timeouts", "disagreements"):
                if k in m:  # artifacts written before disagreements were counted lack the key
                    row[f"eval/{name}/{k}"] = m[k]
        self.run.log(row)
        self.run.summary.update(row)
        self._table("eval/predictions", artifact.records())
        disagreements = artifact.path / DISAGREEMENTS
        if disagreements.exists():  # the items a grader auditor should look at first
            self._table("eval/disagreements", read_jsonl(disagreements))

    def log_train(self, history: list[dict]) -> None:
        for h in history:
            self.run.log({f"train/{k}": v for k, v in h.items() if isinstance(v, (int, float))})

    def log_selection(self, metrics: dict) -> None:
        """Every checkpoint's selection scores (a table and a curve over steps), and the one chosen."""
        scored = metrics.get("checkpoints") or []
        if not scored:
            return
        names = sorted(scored[0]["scores"])
        self.run.log({"train/selection": self.wandb.Table(
            columns=["step", "score", *names, "selected"],
            data=[[c["step"], c["score"], *(c["scores"][n] for n in names), c["step"] == metrics["selected_step"]]
                  for c in scored])})
        self.run.summary.update({"train/selected_step": metrics["selected_step"],
                                 "train/selected_score": metrics["selected_score"]})

    def log_agent_costs(self, rows: list[dict]) -> None:
        """Calls and tokens per problem per agent: scalars for charts, and one table."""
        keys = ("inputs", "candidates", "after_problem_qc", "llm_calls", "calls_per_problem", "tokens_per_problem",
                "problems_per_input")
        summary = {f"agents/{r['agent']}/{k}": r[k] for r in rows for k in keys if r[k] is not None}
        self.run.summary.update(summary)
        if rows:
            self.run.log({"agents/costs": self.wandb.Table(columns=["agent", *keys],
                                                           data=[[r["agent"], *(r[k] for k in keys)] for r in rows])})

    def _table(self, key: str, records) -> None:
        rows = list(itertools.islice(records, self.sample_rows))
        if not rows:
            return
        cols = [c for c in SAMPLE_FIELDS if any(c in r for r in rows)]
        data = [[_cell(r.get(c)) for c in cols] for r in rows]
        self.run.log({key: self.wandb.Table(columns=cols, data=data)})

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)


def _cell(v: Any) -> Any:
    return v if isinstance(v, (int, float, bool)) or v is None else str(v)[:2000]


# Loggers by short name (logger.name); a module.Class path names one of your own.
LOGGERS = {"none": "flames.logger.NoLogger", "wandb": "flames.logger.WandbLogger"}


def make_logger(cfg: Any, config: dict, run_dir: str, experiment: str) -> NoLogger:
    if cfg.get("mode") == "disabled":
        return NoLogger()
    return find_class(cfg.name, LOGGERS, what="logger")(cfg, config, run_dir, experiment)
