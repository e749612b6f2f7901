"""Cluster settings in one place (flames.cluster): a study's jobs take the `hydra/launcher` profile's settings,
a CPU task its CPU variant, and the environment's overrides last. The sbatch scripts of a study submitted with
a profile are tests/test_slurm.py's."""

from __future__ import annotations

from types import SimpleNamespace

from hydra import compose, initialize_config_dir

from flames.cli import CONF_DIR
from flames.cluster import gres_for, job_parameters, launcher_profile
from flames.config import register_configs
from tests.helpers import compose_config

PROFILE = ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.constraint=a100",
           "hydra.launcher.gres=gpu:a100", "hydra.launcher.exclude=node7", "hydra.launcher.account=lab",
           "hydra.launcher.setup=[module load cuda]", "+hydra.launcher.additional_parameters={mail-type: FAIL}"]


def profile(extra=()):
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[*PROFILE, *extra], return_hydra_config=True)
    return launcher_profile(cfg.hydra.launcher)


def study(*overrides):
    return compose_config(["study=quickstart", *overrides]).study


def test_a_gpu_task_takes_the_profile_with_its_own_gpu_count():
    s = study("+study.cpu_overrides.partition=cpu", "+study.cpu_overrides.constraint=null")
    p = job_parameters("solve", SimpleNamespace(gpus=2, cpus=8, mem_gb=64, time_min=60), s, None, profile())
    assert (p["slurm_partition"], p["slurm_constraint"], p["slurm_exclude"]) == ("gpu", "a100", "node7")
    assert p["slurm_gres"] == "gpu:a100:2" and "gpus_per_node" not in p  # typed GPUs, counted by the stage
    assert p["slurm_setup"][0] == "module load cuda" and p["timeout_min"] == 60
    assert p["slurm_additional_parameters"] == {"mail-type": "FAIL", "account": "lab"}


def test_a_cpu_task_takes_the_cpu_variant_and_no_gpu():
    s = study("+study.cpu_overrides.partition=cpu", "+study.cpu_overrides.constraint=null")
    p = job_parameters("mix", SimpleNamespace(gpus=0, cpus=1, mem_gb=8, time_min=30), s, None, profile())
    assert p["slurm_partition"] == "cpu" and "slurm_constraint" not in p and "slurm_gres" not in p
    assert p["gpus_per_node"] == 0 and p["slurm_exclude"] == "node7"


def test_the_environment_overrides_the_profile(monkeypatch):
    monkeypatch.setenv("FLAMES_GPU_PARTITION", "big")
    monkeypatch.setenv("FLAMES_ACCOUNT", "other")
    p = job_parameters("solve", SimpleNamespace(gpus=1, cpus=8, mem_gb=64, time_min=60), study(), None, profile())
    assert p["slurm_partition"] == "big" and p["slurm_additional_parameters"]["account"] == "other"


def test_gres_gets_the_tasks_gpu_count_and_keeps_other_resources():
    assert gres_for("gpu", 4) == "gpu:4" and gres_for("gpu:a100:8", 1) == "gpu:a100:1"
    assert gres_for("gpu:h100,nvme:1", 0) == "nvme:1" and gres_for(None, 2) is None
    assert launcher_profile(compose_config([]).get("hydra")) == {}  # no SLURM profile: nothing
