"""The model-based solution-QC strategies: an LLM judge of solvability, then (optionally) a reward model.

solvability: the judge's solvable problems, with their first solution; solvability_reward (the
paper's "Solvability + RM"): the judge's solvable problems, with the solution the reward model
scores best. Both declare their models, so the solution_qc key carries exactly those settings.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flames import llm as llm_mod
from flames.context import StageContext
from flames.keys import key_slice
from flames.qc.judge import SOLVABLE, UNSOLVABLE, SolvabilityJudge
from flames.qc.reward import RewardScorer
from flames.qc.solution import Strategy, kept_record


def judge_config(qc: Any, problem_model: Any) -> Any:
    """The judging LLM: qc.judge, or the problem model with all its settings when qc.judge.name is ""."""
    return qc.judge if qc.judge.name else problem_model


class Solvability(Strategy):
    """Problems the judge calls solvable, each with its first solution."""

    name = "solvability"

    def model_configs(self, qc, problem_model):
        return {"judge": judge_config(qc, problem_model), "solvability": qc.solvability}

    def load_models(self, qc, problem_model, ctx=None):
        cfg, how = judge_config(qc, problem_model), qc.solvability
        sampling = llm_mod.sampling_from(cfg, temperature=how.temperature, max_new_tokens=how.max_new_tokens)
        return {"judge": SolvabilityJudge(llm_mod.for_stage(ctx or StageContext(), cfg), sampling, how.chunk_size)}

    def keep(self, rows, writer, judge: SolvabilityJudge | None = None, **models):
        if judge is None:
            raise ValueError(f"strategy {self.name} needs a solvability judge")
        empty = [r for r in rows if not r["solutions"]]
        writer.drop(({"id": r["id"]} for r in empty), "no_samples")
        rows = [r for r in rows if r["solutions"]]
        verdicts = judge.judge(rows, writer)
        kept = []
        for row in rows:
            v = verdicts[row["id"]]
            if v["verdict"] != SOLVABLE:
                reason = "unsolvable" if v["verdict"] == UNSOLVABLE else v.get("error") or "judge_unparseable"
                writer.drop([{"id": row["id"], "judge": v}], reason)
            else:
                kept.append(row)
        metrics = {"judge_verdicts": dict(Counter(v["verdict"] or "unparseable" for v in verdicts.values()))}
        return self.choose(kept, verdicts, models, metrics), metrics

    def choose(self, rows: list[dict], verdicts: dict, models: dict, metrics: dict) -> list[dict]:
        return [kept_record(r, 0, {"strategy": self.name, "judge": verdicts[r["id"]]}) for r in rows]


class SolvabilityReward(Solvability):
    """The judge's solvable problems, each with the solution the reward model scores best."""

    name = "solvability_reward"

    def model_configs(self, qc, problem_model):
        return {**super().model_configs(qc, problem_model), "reward_model": qc.reward_model}

    def load_models(self, qc, problem_model, ctx=None):
        rm = qc.reward_model
        scorer = RewardScorer(rm.name, rm.dtype, rm.batch_size, rm.max_length, key_slice(rm.extra),
                              before_load=lambda: llm_mod.release(ctx or StageContext()))  # a vLLM judge holds the GPU memory
        return {**super().load_models(qc, problem_model, ctx), "scorer": scorer}

    def keep(self, rows, writer, judge=None, scorer: RewardScorer | None = None, **models):
        if scorer is None:
            raise ValueError("strategy solvability_reward needs a reward scorer")
        return super().keep(rows, writer, judge=judge, scorer=scorer, **models)

    def choose(self, rows, verdicts, models, metrics):
        scorer = models["scorer"]
        out, scores = [], _scores(rows, scorer)
        for row, sc in zip(rows, scores):
            best = max(range(len(sc)), key=lambda i: (sc[i], -i))  # ties: the earliest sample
            out.append(kept_record(row, best, {"strategy": self.name, "judge": verdicts[row["id"]], "scores": sc}))
        metrics.update(scored_solutions=sum(map(len, scores)), reward_truncated=scorer.truncated)
        return out


def _scores(rows: list[dict], scorer: RewardScorer) -> list[list[float]]:
    """Reward per solution; a text repeated within a problem is scored once, so equal texts tie exactly."""
    pairs: dict[tuple[str, str], int] = {}
    for row in rows:
        for sol in row["solutions"]:
            pairs.setdefault((row["problem"], sol["text"]), len(pairs))
    flat = scorer.score(list(pairs))
    return [[flat[pairs[(row["problem"], s["text"])]] for s in row["solutions"]] for row in rows]
