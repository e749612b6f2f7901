"""Cluster settings in one place: the `hydra/launcher` profile that `flames -m` sweeps use also sets a study's jobs.

`flames study=<name> hydra/launcher=<cluster>` reads the profile's partition, account, qos, constraint, exclude,
gres, comment, setup lines and additional parameters, and asks each task's resources from its stage
(cpus, GPUs, memory, time). GPU and CPU variants: the profile is the GPU tasks'; a CPU-only task (problem QC,
mix, a strategy without a model) takes `study.cpu_overrides` over it (e.g. `{partition: cpu, constraint: null}`),
and never a GPU gres. The environment's FLAMES_GPU_PARTITION, FLAMES_CPU_PARTITION, FLAMES_ACCOUNT and
FLAMES_QOS (study.gpu_partition, ...) override the profile, so one profile serves several accounts.
"""

from __future__ import annotations

import os
from typing import Any

# the submitit launcher's settings a study's sbatch takes from the profile (the request is the stage's own)
PROFILE_KEYS = ("partition", "account", "qos", "constraint", "exclude", "gres", "comment", "setup",
                "additional_parameters", "signal_delay_s")


def launcher_profile(launcher: Any) -> dict[str, Any]:
    """The cluster settings of a `hydra/launcher` config (the submitit SLURM launcher's); {} for any other."""
    from omegaconf import OmegaConf

    if launcher is None or "SlurmLauncher" not in str(launcher.get("_target_", "")):
        return {}
    node = OmegaConf.to_container(launcher, resolve=True)
    return {k: node[k] for k in PROFILE_KEYS if node.get(k) not in (None, [], {})}


def settings_for(profile: dict[str, Any], gpus: int, study: Any) -> dict[str, Any]:
    """The profile as one task needs it: CPU variant for a task without GPUs, the environment's overrides last."""
    out = dict(profile)
    if not gpus:
        out.update(dict(study.get("cpu_overrides") or {}))
    out["gres"] = gres_for(out.get("gres"), gpus)
    partition = study.gpu_partition if gpus else study.cpu_partition
    for key, value in (("partition", partition), ("account", study.get("account")), ("qos", study.get("qos"))):
        if value:
            out[key] = value
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def gres_for(gres: str | None, gpus: int) -> str | None:
    """A profile's gres for a task asking `gpus` GPUs: a GPU entry (`gpu`, `gpu:a100`, `gpu:a100:8`) gets the task's
    count (a CPU task drops it); other resources stay as written."""
    if not gres:
        return None
    out = []
    for entry in str(gres).split(","):
        parts = entry.strip().split(":")
        if parts[0] != "gpu":
            out.append(entry.strip())
        elif gpus:
            kind = parts[1:2] if len(parts) > 1 and not parts[1].isdigit() else []
            out.append(":".join(["gpu", *kind, str(gpus)]))
    return ",".join(out) or None


def job_parameters(stage: str, r: Any, study: Any, after: list | None, profile: dict[str, Any] | None = None) -> dict:
    """submitit parameters for a stage array: the stage's request, the profile's settings, the dependency."""
    params: dict[str, Any] = {"name": f"flames-{study.name}-{stage}", "timeout_min": r.time_min,
                              "cpus_per_task": r.cpus, "mem_gb": r.mem_gb}
    if study.executor != "slurm":
        return params
    s = settings_for(profile or {}, r.gpus, study)
    extra: dict[str, Any] = dict(s.get("additional_parameters") or {})
    if after:
        # afterany: a failed cell must not stop the others; its own downstream tasks fail at once (study_task)
        extra["dependency"] = "afterany:" + ":".join(sorted({j.job_id.split("_")[0] for j in after}))
    for key in ("account", "qos"):
        if s.get(key):
            extra[key] = s[key]
    params.update(slurm_array_parallelism=study.array_parallelism,
                  slurm_setup=[*s.get("setup", []), *study.setup], slurm_additional_parameters=extra)
    if s.get("gres") and "gpu" in s["gres"]:
        params["slurm_gres"] = s["gres"]  # the GPUs, typed: no --gpus-per-node beside it
    else:
        params["gpus_per_node"] = r.gpus
        if s.get("gres"):
            params["slurm_gres"] = s["gres"]
    for key in ("partition", "constraint", "exclude", "comment", "signal_delay_s"):
        if s.get(key) is not None:
            params[f"slurm_{key}"] = s[key]
    return params


def local_threads(tasks: int) -> dict[str, str]:
    """The local executor runs a stage's tasks at once on this machine, with no scheduler to give each its CPUs:
    each gets an equal share of the cores as its torch threads (two trainings of two threads each on two cores took
    2.3x as long as one after the other). A thread count set by the user stands."""
    if os.environ.get("OMP_NUM_THREADS"):
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = str(max(1, cores // max(tasks, 1)))
    return {"OMP_NUM_THREADS": share, "MKL_NUM_THREADS": share}
