"""A Hydra callback for tests/test_slurm.py: what a SLURM job's own process sees, written to its run folder.

`flames -m ... +hydra.callbacks.job_env._target_=tests.slurm_probe.JobEnv` (with the repo on PYTHONPATH)
makes each job write `<run dir>/job_env.json` as it starts, inside the job step where flames runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

ENV_FILE = "job_env.json"
KEYS = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_STEP_ID",
        "SLURM_GPUS_ON_NODE", "SLURM_STEP_GPUS")


class JobEnv(Callback):
    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        import torch

        record = {key: os.environ.get(key) for key in KEYS}
        record["torch.cuda.is_available"] = torch.cuda.is_available()
        record["torch.cuda.device_count"] = torch.cuda.device_count()
        Path(config.hydra.runtime.output_dir, ENV_FILE).write_text(json.dumps(record, indent=1) + "\n")
