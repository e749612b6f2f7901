"""problem_qc: dedup and decontamination of an agent's problems."""

from __future__ import annotations

from flames.qc.stage import problem_qc
from flames.stages.base import Stage, problem_filter, references_fingerprint


class ProblemQC(Stage):
    def grows(self, job):
        return True  # checks every problem of its input pool: served until that pool grows

    def fingerprints(self, job, inputs):
        return references_fingerprint(job)

    def run(self, job, inputs, out):
        return problem_qc(inputs["problems"].data, out, problem_filter(job))
