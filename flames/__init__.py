"""flames: the FLAMES synthetic-math-data study as one Hydra pipeline.

Stages (each a plain function over files): synthesize -> problem_qc -> solve -> solution_qc
-> mix -> train -> evaluate. See README.md and conf/.
"""

__version__ = "0.1.0"
