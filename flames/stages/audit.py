"""audit: the solvability audit of a solution-QC artifact (flames.audit), when `audit.enabled`."""

from __future__ import annotations

from pathlib import Path

from flames import llm as llm_mod
from flames.audit import audit, sample_groups
from flames.keys import key_slice, text_fingerprint
from flames.qc.judge import SolvabilityJudge
from flames.stages.base import Stage


class Audit(Stage):
    def applies(self, job):
        return bool(job.cfg.audit.enabled)

    def resources(self, cfg):
        r = super().resources(cfg)
        if cfg.audit.labels:  # a human-labelled file: no model
            r.gpus = 0
        return r

    def fingerprints(self, job, inputs):
        a = job.cfg.audit
        if a.labels:  # its content (a missing file fails when the stage runs, naming it)
            return {"labels": text_fingerprint([Path(a.labels).read_text()])} if Path(a.labels).is_file() else {}
        return {} if a.judge.name else {"judge": key_slice(job.cfg.problem_model)}  # "": the problem model

    def run(self, job, inputs, out):
        a, qc = job.cfg.audit, inputs["qc"]
        solved = qc.path.parent.parent / "solve" / qc.manifest()["inputs"]["solved"]["key"] / "data.jsonl"
        groups = sample_groups(qc.path, solved, list(a.reasons), a.num_samples, a.seed)
        if a.labels:
            return audit(groups, out, labels=Path(a.labels))
        model = a.judge if a.judge.name else job.cfg.problem_model
        how = job.cfg.qc.solvability
        sampling = llm_mod.sampling_from(model, temperature=how.temperature, max_new_tokens=how.max_new_tokens)
        return audit(groups, out, SolvabilityJudge(llm_mod.for_stage(job.ctx, model), sampling, how.chunk_size))
