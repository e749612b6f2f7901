"""Experiment tracking: one W&B run per launch of a job (offline by default), or nothing (logger=none).

A run's identity comes from its job (`RunIdentity`): the id is a hash of the job's overrides and what tells
this launch from another: the SLURM job id (an array task's `<job>_<task>`; submitit's job environment where
a study's task runs), which `scontrol requeue` and submitit's resubmission keep, so a requeued job resumes its
run (`resume="allow"`); outside SLURM a random suffix, so a rerun is a new run (`logger.id` sets one). The name is
the overrides (`agent=iqc,qc=majority`); the group is the study or experiment; `job_type` is the stage
("pipeline" for a whole-pipeline job); every chosen config option is a tag and a `choice/<group>` config
column, next to the resolved config flattened to dotted keys.

Logged: every stage's manifest counts under one key per quantity in every run (`synthesize/records_out`,
`solution_qc/dropped/no_majority`, `eval/gsm8k/accuracy`, `eval/avg`; a mixture's per-agent stages add
up, with each agent's counts in a `<stage>/per_agent` table) against `stage/step` (the stages logged so far),
the training curve as it trains against `train/step` (the optimizer step), a table of sample records per
stage, and the grader disagreements of an evaluation. Summaries: `eval/<bench>/accuracy` max and last,
`train/loss` min and last. Each stage's output is a W&B artifact (flames.lineage) that the run logs when it
computed it and uses when it read it (offline too), so W&B's lineage graph runs seeds -> synthesize -> ...
-> mix -> student.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from flames.benchmarks import paper_average
from flames.evaluate import DISAGREEMENTS
from flames.jsonl import read_jsonl
from flames.lineage import READS_SEEDS, Ref, cell_name, output_ref, seeds_ref
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
TRAIN_STEP, STAGE_STEP = "train/step", "stage/step"  # the x axes: optimizer steps; stages logged so far
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

    def run_id(self, project: str, group: str, launch: str | None = None) -> str:
        """`<hash of project, group, cell and stage>-j<launch>` for a job whose launch id a requeue keeps (the
        SLURM job), else `<hash>-<random>`: a new launch of the same cell is a new run, its attempts one run."""
        text = "\n".join([project, group, *self.cell()])
        suffix = f"j{launch}" if launch else secrets.token_hex(4)
        return f"{hashlib.sha256(text.encode()).hexdigest()[:16]}-{suffix}"

    def name(self, experiment: str) -> str:
        return ",".join(self.cell()) or experiment

    def job_type(self) -> str:
        return "pipeline" if self.stage == "all" else self.stage

    def tags(self) -> list[str]:
        """One tag per chosen option (W&B caps tags at 64 characters)."""
        return [f"{g}:{c}"[:64] for g, c in sorted(self.choices.items()) if c and not g.startswith("hydra")]


def launch_id() -> str | None:
    """The job this process runs in, as a requeue keeps it: submitit's job environment (a study's task, on SLURM
    or the local executor), else SLURM's variables (an array task is `<array job>_<task>`); None outside a job."""
    env = os.environ
    if env.get("SUBMITIT_EXECUTOR"):
        import submitit

        return submitit.JobEnvironment().job_id
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID") or None


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
        self.config, self.stage_step, self.defined, self.seeds_used = config, 0, set(), False
        who = identity or RunIdentity()
        self.who, self.cell = who, cell_name(who.cell(), experiment)
        group = cfg.group or experiment
        self.run = wandb.init(project=cfg.project, entity=cfg.entity, mode=cfg.mode, group=group,
                              id=cfg.get("id") or who.run_id(cfg.project, group, launch_id()), resume="allow",
                              name=cfg.get("run_name") or who.name(experiment), job_type=who.job_type(),
                              tags=[*cfg.tags, *who.tags()], dir=cfg.dir or run_dir,
                              config=flat_config(config, who), reinit="finish_previous")
        self.define_axes()
        log.info("W&B run %s (%s, %s) in %s", self.run.id, self.run.name, cfg.mode, self.run.dir)

    def define_axes(self) -> None:
        """The training curve against the optimizer step; stage counts and evaluations against the stage count."""
        self.run.define_metric(TRAIN_STEP)
        self.run.define_metric("train/*", step_metric=TRAIN_STEP)
        self.run.define_metric("train/loss", step_metric=TRAIN_STEP, summary="min,last")  # best and final loss
        self.run.define_metric(STAGE_STEP)
        self.run.define_metric("eval/*", step_metric=STAGE_STEP)

    def define(self, keys, **how) -> None:
        """Each key once, by name (a name outranks a glob: `train/records_out` is a stage count, not a curve)."""
        for key in keys:
            if key not in self.defined and key != STAGE_STEP:
                self.defined.add(key)
                self.run.define_metric(key, **how)

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
        self.stage_step += 1
        row[STAGE_STEP] = self.stage_step
        self.define(row, step_metric=STAGE_STEP)
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
        """The stage's output as a W&B artifact (flames.lineage; references, nothing is uploaded): logged by
        the run that computed it, used by a run that read it, so W&B links each stage to the next through the
        runs. A run that computed a stage reading the seeds uses them. The store key is in the summary too."""
        self.run.summary[f"{prefix}/artifact"] = result.artifact.key
        if not result.reused and result.stage in READS_SEEDS and not self.seeds_used:
            self.seeds_used = True
            self.use(seeds_ref(self.config.get("seeds") or {}, self.who.choices.get("seeds")))
        ref = output_ref(result, self.cell, self.config)
        if result.reused:
            self.use(ref)
        else:
            self.run.log_artifact(self.artifact(ref), aliases=ref.aliases)

    def artifact(self, ref: Ref):
        art = self.wandb.Artifact(ref.name, type=ref.type, metadata=ref.metadata)
        for uri in ref.uris:
            art.add_reference(uri, checksum=False)  # the digest comes from the paths: no file is read
        return art

    def use(self, ref: Ref) -> None:
        """An input of this run. W&B's use_artifact refuses offline runs; for a new artifact it logs it marked
        `use_after_commit` (an input, not an output), and that record is what an offline run writes here:
        `wandb sync` uploads it, so a synced run keeps its inputs."""
        art = self.artifact(ref)
        if not self.run.offline:
            self.run.use_artifact(art, aliases=ref.aliases)
        elif hasattr(self.run, "_log_artifact"):
            self.run._log_artifact(art, aliases=ref.aliases, use_after_commit=True)
        else:  # a wandb without that private method: the lineage loses this input, the run goes on
            log.warning("W&B: this wandb cannot record %s as an input offline", ref.name)

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
        best = [f"eval/{name}/accuracy" for name in metrics if f"eval/{name}/accuracy" in row]
        self.define(best, step_metric=STAGE_STEP, summary="max,last")  # {"max": best, "last": latest}
        self.run.log({**row, STAGE_STEP: self.stage_step})
        self.run.summary.update({k: v for k, v in row.items() if k not in best})  # W&B keeps max and last
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
