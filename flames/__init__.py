"""flames: the FLAMES synthetic-math-data study as one Hydra pipeline.

Stages (each a plain function over files): synthesize -> problem_qc -> solve -> solution_qc
-> mix -> train -> evaluate, as objects in flames.stages. See README.md, docs/architecture.md and conf/.
"""

__version__ = "0.13.0"
