"""Experiment tracking: one W&B run per job (offline by default), or nothing (logger=none).

A run's identity comes from its job (`RunIdentity`): the id is a hash of the job's overrides, so a
requeued or rerun job resumes the same run (`resume="allow"`); the name is those overrides
(`agent=iqc,qc=majority`); the group is the study or experiment; `job_type` is the stage
("pipeline" for a whole-pipeline job); every chosen config option is a tag and a `choice/<group>` config
column, next to the resolved config flattened to dotted keys.

Logged: every stage's manifest counts under one key per quantity in every run (`synthesize/records_out`,
`solution_qc/dropped/no_majority`, `eval/gsm8k/accuracy`, `eval/avg`; a mixture's per-agent stages add
up, with each agent's counts in a `<stage>/per_agent` table), the training loss curve as it trains,
a table of sample records per stage, and the grader disagreements of an evaluation.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from flames.benchmarks import paper_average
from flames.evaluate import DISAGREEMENTS
from flames.jsonl import read_jsonl
from flames.parts import find_class
from flames.report.scores_table import score_metrics

log = logging.getLogger(__name__)

COUNT_KEYS = ("records_in", "records_out", "llm_calls", "requests", "prompt_tokens", "completion_tokens",
              "truncated", "wall_time_s", "retries", "still_failed")
# Per benchmark (and subset) as eval/<name>/<key>: greedy accuracy and counts, each rate's interval
# (flames.stats: <rate>_stderr, _ci_low, _ci_high at ci_level %), and with samples avg-of-k, maj@k, pass@k.
_RATES = ("accuracy", "avg_of_k", "maj_at_k", "pass_at_k")
EVAL_KEYS = ("accuracy", "n", "unparseable", "truncated", "timeouts", "disagreements", "prompt_too_long", "ci_level",
             "k", "sampled_n", "sampled_unparseable", "sampled_truncated", "avg_of_k", "maj_at_k", "pass_at_k",
             *(f"{r}_{s}" for r in _RATES for s in ("stderr", "ci_low", "ci_high")))
SAMPLE_FIELDS = ("id", "sample", "agent", "problem", "solution", "answer", "pred", "gold", "correct", "graders")


# Overrides that say where or how a job logs or runs, not what it computes: left out of its W&B id and name.
_NOT_IDENTITY = ("logger.", "logger=", "hydra.", "hydra/", "study_task=", "paths.", "distributed.dry_run=")


@dataclass
class RunIdentity:
    """Who a job is, for W&B: its overrides (the cell), chosen config options and stage."""

    overrides: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)  # config group -> chosen option (Hydra's choices)
    stage: str = "all"

    def cell(self) -> list[str]:
        return sorted(o for o in self.overrides if not o.lstrip("+~").startswith(_NOT_IDENTITY))

    def run_id(self, project: str, group: str) -> str:
        """The same job (cell + stage) in the same project and group gets the same id, whenever it runs."""
        text = "\n".join([project, group, *self.cell()])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def name(self, experiment: str) -> str:
        return ",".join(self.cell()) or experiment

    def job_type(self) -> str:
        return "pipeline" if self.stage == "all" else self.stage

    def tags(self) -> list[str]:
        """One tag per chosen option (W&B caps tags at 64 characters)."""
        return [f"{g}:{c}"[:64] for g, c in sorted(self.choices.items()) if c and not g.startswith("hydra")]


def flat_config(config: dict, identity: RunIdentity) -> dict:
    """Dotted keys (`agent.num_problems`) and `choice/<group>`: every value and group choice is a column."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = node

    walk("", config)
    flat.update({f"choice/{g}": c for g, c in identity.choices.items() if not g.startswith("hydra")})
    return flat


class NoLogger:
    def __init__(self, *args: Any) -> None: ...

    def log_stage(self, result) -> None: ...

    def log_eval(self, metrics: dict, artifact) -> None: ...

    def log_train(self, history: list[dict]) -> None: ...

    def log_agent_costs(self, rows: list[dict]) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class WandbLogger(NoLogger):
    def __init__(self, cfg: Any, config: dict, run_dir: str, experiment: str, identity: RunIdentity | None = None):
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.wandb = wandb
        self.sample_rows = cfg.sample_rows
        self.per_agent: dict[str, dict[str, dict]] = {}  # stage -> agent -> its counts (mixtures)
        who = identity or RunIdentity()
        group = cfg.group or experiment
        self.run = wandb.init(project=cfg.project, entity=cfg.entity, mode=cfg.mode, group=group,
                              id=cfg.get("id") or who.run_id(cfg.project, group), resume="allow",
                              name=cfg.get("run_name") or who.name(experiment), job_type=who.job_type(),
                              tags=[*cfg.tags, *who.tags()], dir=cfg.dir or run_dir,
                              config=flat_config(config, who), reinit="finish_previous")
        log.info("W&B run %s (%s, %s) in %s", self.run.id, self.run.name, cfg.mode, self.run.dir)

    def log_stage(self, result) -> None:
        m = result.manifest
        counts = stage_counts(m)
        if result.label:  # a per-agent stage: the key names the quantity, not the agent; agents add up
            agents = self.per_agent.setdefault(result.stage, {})
            agents[result.label] = counts
            counts = summed(agents.values())
            self.log_per_agent(result.stage, agents)
        row = {f"{result.stage}/{k}": v for k, v in counts.items()}
        row[f"{result.stage}/reused"] = int(result.reused)
        scores = (m.get("metrics") or {}).get("scores")
        if result.stage == "solution_qc" and scores:  # per agent: docs/scorers.md
            row.update(score_metrics(result.label or "-", scores))
        self.run.log(row)
        self.run.summary.update(row)
        prefix = f"{result.stage}/{result.label}" if result.label else result.stage
        self.log_lineage(result, prefix)
        if result.stage == "train":
            self.log_selection(m.get("metrics") or {})
            curve = result.artifact.path / "train_log.jsonl"
            if result.reused and curve.exists():  # trained by another job (a study's train task): its curve
                self.log_train(list(read_jsonl(curve)))
        if result.stage == "evaluate":
            self.log_eval(m["metrics"], result.artifact)
        elif result.artifact.data.exists():
            self._table(f"{prefix}/samples", result.artifact.records())

    def log_lineage(self, result, prefix: str) -> None:
        """The stage's artifact as a W&B artifact reference (its store path and key; nothing is uploaded):
        the run that computed it logs it as an output, a run that reused it as an input (online only: W&B
        refuses inputs offline), so W&B shows which synthesize fed which solve. The key is in the summary."""
        art = result.artifact
        self.run.summary[f"{prefix}/artifact"] = art.key
        ref = self.wandb.Artifact(f"{result.stage}-{art.key}", type=result.stage,
                                  metadata={"key": art.key, "path": str(art.path), "agent": result.label or None})
        ref.add_reference(art.path.resolve().as_uri(), checksum=False)  # one entry for the folder, no file walk
        if not result.reused:
            self.run.log_artifact(ref)
        elif not self.run.offline:
            self.run.use_artifact(ref)

    def log_per_agent(self, stage: str, agents: dict[str, dict]) -> None:
        """A mixture's per-agent counts of one stage as a table (`synthesize/per_agent`)."""
        cols = sorted({k for c in agents.values() for k in c})
        self.run.log({f"{stage}/per_agent": self.wandb.Table(
            columns=["agent", *cols], data=[[a, *(c.get(k) for k in cols)] for a, c in agents.items()])})

    def log_eval(self, metrics: dict, artifact) -> None:
        row = {} if paper_average(metrics) is None else {"eval/avg": paper_average(metrics)}
        for name, m in metrics.items():
            for k in EVAL_KEYS:
                if k in m:  # artifacts from before disagreements, intervals or samples lack their keys
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


def stage_counts(m: dict) -> dict[str, float]:
    """A manifest's counts, drops (`dropped/<reason>`) and numeric metrics, by their shared names."""
    row = {k: m[k] for k in COUNT_KEYS if m.get(k) is not None}
    row.update({f"asked/{k}": v for k, v in (m.get("asked") or {}).items()})  # a pool: the sizes last asked of it
    row.update({f"dropped/{k}": v for k, v in (m.get("dropped") or {}).items()})
    row.update({f"failed/{k}": v for k, v in (m.get("failed") or {}).items()})  # failed requests, every attempt
    row.update({k: v for k, v in (m.get("metrics") or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return row


def summed(rows) -> dict[str, float]:
    """Counts over a mixture's agents; a ratio or metric that does not add up is kept only when one agent has it."""
    rows = list(rows)
    if len(rows) == 1:
        return dict(rows[0])
    keys = {k for r in rows for k in r if k in COUNT_KEYS or k.startswith(("dropped/", "failed/"))}
    return {k: sum(r.get(k, 0) for r in rows) for k in sorted(keys)}


def _cell(v: Any) -> Any:
    return v if isinstance(v, (int, float, bool)) or v is None else str(v)[:2000]


# Loggers by short name (logger.name); a module.Class path names one of your own.
LOGGERS = {"none": "flames.logger.NoLogger", "wandb": "flames.logger.WandbLogger"}


def make_logger(cfg: Any, config: dict, run_dir: str, experiment: str, identity: RunIdentity | None = None
                ) -> NoLogger:
    if cfg.get("mode") == "disabled":
        return NoLogger()
    return find_class(cfg.name, LOGGERS, what="logger")(cfg, config, run_dir, experiment, identity)
