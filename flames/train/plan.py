"""How a training run is laid out: processes, per-device batch, accumulation, and the launch command."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flames.config import ConfigError


@dataclass(frozen=True)
class Plan:
    processes: int  # one per device (1 on CPU)
    per_device: int  # examples per device per forward pass
    accumulation: int  # forward passes per optimizer step

    @property
    def global_batch(self) -> int:
        return self.processes * self.per_device * self.accumulation


VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "kernels-community/")


def make_plan(student: Any, processes: int) -> Plan:
    """The batch layout; `student.global_batch_size` keeps its meaning whatever the number of devices."""
    if student.packing and not str(student.attn_implementation or "").startswith(VARLEN_ATTENTION):
        # padding-free packing relies on position_ids resets, which only varlen kernels honour: with
        # sdpa/eager the packed examples would attend to each other
        raise ConfigError("student.packing=true needs student.attn_implementation=flash_attention_2 "
                          f"(or _3, or a kernels-community kernel); it is {student.attn_implementation!r}")
    per = student.per_device_train_batch_size
    if student.global_batch_size is None:
        return Plan(processes, per, student.gradient_accumulation_steps)
    accumulation, rest = divmod(student.global_batch_size, per * processes)
    if rest or accumulation < 1:
        raise ConfigError(f"student.global_batch_size={student.global_batch_size} is not a multiple of "
                          f"student.per_device_train_batch_size={per} x {processes} processes")
    return Plan(processes, per, accumulation)


def visible_devices() -> int:
    """GPUs this process can use (0 on CPU)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def process_count(distributed: Any, gpus_requested: int | None = None) -> int:
    """distributed.num_processes, else one per visible GPU (a dry run: per requested GPU), at least 1."""
    if distributed.num_processes:
        return int(distributed.num_processes)
    return max(1, gpus_requested if gpus_requested is not None else visible_devices())


def launch_command(spec: Path, processes: int) -> list[str]:
    """torchrun (as `python -m torch.distributed.run`, the same interpreter) over the worker, on this node."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc_per_node", str(processes), "-m", "flames.train.worker", str(spec)]


def describe(plan: Plan, student: Any, distributed: Any, spec: Path) -> str:
    """What a dry run prints: the exact command and the layout it trains with."""
    precision = "bf16 autocast over fp32 master weights (on GPU)" if student.bf16 else "fp32"
    return "\n".join([
        shlex.join(launch_command(spec, plan.processes)),
        f"  student          {student.name}",
        f"  sharding         {distributed.name}" + (f" ({distributed.fsdp})" if distributed.fsdp else ""),
        f"  processes        {plan.processes} (1 node)",
        f"  global batch     {plan.global_batch} = {plan.processes} x {plan.per_device} per device x "
        f"{plan.accumulation} accumulation",
        f"  precision        {precision}",
        f"  checkpoints      {student.num_checkpoints}, selection={student.selection}",
    ])
