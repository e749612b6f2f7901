"""The stages as objects: each declares its config slice, its inputs and its resources, and runs one
stage function (`flames.synthesize.synthesize`, `flames.qc.stage.problem_qc`, ...) over files.

    [teach ->]                                                  shared: solve's teacher (teacher.enabled)
    [tune ->] synthesize -> problem_qc -> solve -> solution_qc   once per agent of the mixture
                                                         \\         (none: mixture=external)
                                                          mix -> train -> evaluate

`teach` applies only with `teacher.enabled` (rehearsal=signal): it fine-tunes the solution model on the seeds'
solutions, once, and every agent's solve samples from the result (solve's `extra_inputs`). `tune` applies only
to agents that sample from a model fine-tuned for them (QFT): it trains that model as its own job, with training
resources, and synthesize loads the result. `audit` applies only with
`audit.enabled` (study=solvability_audit): it judges a sample of what solution QC rejected and kept again.

A stage's artifact key is the hash of its name, `slice(job, inputs)` and its inputs' keys. The
slice is built from the config paths the stage `reads` (without the fields the schema marks as
runtime-only, `flames.keys.key_slice`) plus `fingerprints` of content the config only points at
(seed files, benchmark items, a model folder). `flames.pipeline.Pipeline` is a loop over `STAGES`.

The generation stages (synthesize, problem_qc, solve, solution_qc) make pools (`grows`): keyed without
the sizes asked (`flames.config.size`), they grow when a run asks for more (`ask`), and each run reads its
view of them (`flames.views`). What selects from a view (mix; solution_qc with a fixed size) is keyed by the
sizes it read (`Job.views`). docs/topup.md.
"""

from __future__ import annotations

from flames.stages.audit import Audit
from flames.stages.base import PROBLEM_QC_READS, Job, Shared, Sizes, Stage
from flames.stages.evaluate import Evaluate
from flames.stages.mix import Mix, external_dataset, mixture_weights, score_filters
from flames.stages.problem_qc import ProblemQC
from flames.stages.solution_qc import SolutionQC
from flames.stages.solve import Solve
from flames.stages.synthesize import Synthesize
from flames.stages.teach import TEACHER, Teach
from flames.stages.train import SELECTIONS, Train
from flames.stages.tune import Tune

# The stage table, in pipeline order.
STAGES: list[Stage] = [
    Teach("teach", reads=("solution_model.name", "teacher", "solve.prompt")),
    Tune("tune", per_agent=True, reads=("problem_model.name", "agent.train")),
    Synthesize("synthesize", per_agent=True, upstream="tune", input_name="generator",
               reads=("agent", "problem_model", "seeds", *PROBLEM_QC_READS)),
    ProblemQC("problem_qc", per_agent=True, upstream="synthesize", input_name="problems", reads=PROBLEM_QC_READS),
    Solve("solve", per_agent=True, upstream="problem_qc", input_name="problems", reads=("solution_model", "solve"),
          extra_inputs=(("teach", TEACHER),)),
    SolutionQC("solution_qc", per_agent=True, upstream="solve", input_name="solved",
               reads=("qc.strategy", "qc.fixed_size", "student.name", "student.max_length", "student.chat_template",
                      "solve.prompt", "solve.num_samples")),
    Audit("audit", per_agent=True, upstream="solution_qc", input_name="qc", reads=("audit",)),
    Mix("mix", upstream="solution_qc", reads=("mixture.budget", "mixture.seed")),
    Train("train", upstream="mix", input_name="mixture", reads=("student", "solve.prompt")),
    Evaluate("evaluate", upstream="train", input_name="model", reads=("benchmarks",)),
]
STAGE_BY_NAME = {s.name: s for s in STAGES}
__all__ = ["STAGES", "STAGE_BY_NAME", "Job", "Shared", "Sizes", "Stage", "SELECTIONS", "external_dataset",
           "mixture_weights", "score_filters"]
