"""One training process: `python -m torch.distributed.run ... -m flames.train.worker <spec.json>`.

`flames.train.run.train` writes the spec (examples, base model, student config, batch layout,
sharding) and launches N of these; each builds the same SFTTrainer, rank 0 writes the log, the
checkpoints' pruning and the final model. A killed run relaunched with the same spec resumes from
its newest complete checkpoint with optimizer, scheduler, RNG and data order restored.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from flames.examples import student_tokenizer
from flames.files import append_jsonl, write_json_atomic
from flames.jsonl import read_jsonl
from flames.train import checkpoints
from flames.train.run import LOG_FILE, RESULT_FILE, die_with_parent

log = logging.getLogger(__name__)


def training_args(spec: dict, out: Path) -> Any:
    """The SFTConfig: the student's hyperparameters, the batch layout of the plan, and the sharding."""
    import torch
    from trl import SFTConfig

    cfg, plan, dist = OmegaConf.create(spec["student"]), spec["plan"], spec["distributed"]
    gpu = torch.cuda.is_available()
    n_ckpt = cfg.num_checkpoints
    deepspeed = None
    if dist.get("deepspeed"):  # written next to the run so the exact config is on disk
        deepspeed = str(out / "deepspeed.json")
        write_json_atomic(Path(deepspeed), dist["deepspeed"])
    return SFTConfig(
        output_dir=str(out / "checkpoints"), learning_rate=cfg.learning_rate, num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=plan["per_device"],
        gradient_accumulation_steps=plan["accumulation"], lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        max_length=cfg.max_length, packing=cfg.packing, bf16=bool(cfg.bf16 and gpu), use_cpu=not gpu,
        gradient_checkpointing=cfg.gradient_checkpointing, seed=cfg.seed, data_seed=cfg.seed,
        save_strategy="steps" if n_ckpt > 0 else "no", save_steps=save_steps(n_ckpt), save_total_limit=None,
        completion_only_loss=True, report_to="none", logging_steps=1, include_num_input_tokens_seen=True,
        dataloader_num_workers=0, ddp_find_unused_parameters=False, fsdp=dist.get("fsdp") or "",
        fsdp_config=dist.get("fsdp_config") or None, deepspeed=deepspeed, **dict(cfg.extra or {}),
    )


def save_steps(n_ckpt: int) -> float | int:
    """Trainer's save_steps for `n_ckpt` checkpoints spread evenly (SaveAtEnd saves the last step too). A float
    below 1 is a fraction of the total steps; 1.0 would be read as every single step, so one checkpoint (the end)
    gets an interval no run reaches."""
    return 1.0 / n_ckpt if n_ckpt > 1 else 10**12


def build_trainer(spec: dict, callbacks: list | None = None) -> Any:
    """The SFTTrainer every process builds alike (the mask test builds it too, in one process)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    out = Path(spec["out_dir"])
    args = training_args(spec, out)  # before the model: ZeRO-3 shards the weights as they load
    tok = student_tokenizer(spec["base_model"], spec["student"].get("chat_template"))
    # fp32 weights: AdamW keeps fp32 master weights; bf16 runs as autocast (args.bf16)
    attn = {"attn_implementation": spec["student"]["attn_implementation"]} \
        if spec["student"].get("attn_implementation") else {}
    model = AutoModelForCausalLM.from_pretrained(spec["base_model"], dtype=torch.float32, **attn)
    data = Dataset.from_list(list(read_jsonl(Path(spec["examples"]))))
    return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok, callbacks=callbacks)


def main(spec_path: str) -> None:
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # torchrun died before the line above took effect
        sys.exit(1)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out_dir"])
    student = spec["student"]
    trainer = build_trainer(spec, [LiveLog(out / LOG_FILE), KeepCheckpoints(out / "checkpoints", keep_all=(
        student["selection"] != "last")), SaveAtEnd()])
    resume = checkpoints.resume_point(out / "checkpoints")
    if resume and trainer.is_world_process_zero():
        log.info("train: resuming from %s", resume)
        trim_log(out / LOG_FILE, checkpoints.step_of(resume))
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    partial = out / "model.partial"
    if trainer.is_world_process_zero() and partial.exists():  # torn by a kill mid-save: its files must not
        shutil.rmtree(partial)  # ride along into model/ (a stray 173 MB temp file did, before 0.4)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(partial))  # every rank: FSDP and ZeRO-3 gather the shards
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(str(partial))  # with the chat template it was trained with
        final = out / "model"
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
        if not spec["student"].get("keep_optimizer_states"):  # a finished run resumes nothing: free the disk
            checkpoints.drop_optimizer_states(out / "checkpoints")
        kept = [checkpoints.step_of(p) for p in checkpoints.checkpoints(out / "checkpoints")]
        write_json_atomic(out / RESULT_FILE, {
            "train_loss": mean_logged_loss(out / LOG_FILE, result.training_loss), "steps": result.global_step,
            "checkpoint_steps": kept,
            "runtime_s": result.metrics.get("train_runtime"),
            "resumed_from": checkpoints.step_of(resume) if resume else None})


def mean_logged_loss(path: Path, fallback: float) -> float:
    """The run's mean training loss over every step, from the step log (trimmed at a resume, so each step
    counts once): the Trainer's own figure covers only the steps of the last attempt after a resume."""
    losses = [r["loss"] for r in read_jsonl(path) if "loss" in r] if path.exists() else []
    return sum(losses) / len(losses) if losses else fallback


def trim_log(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint a resume starts from: those steps run again, once in the log."""
    if not path.exists():
        return
    keep = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    append_jsonl(tmp, keep)
    os.replace(tmp, path)


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class LiveLog(_callback_base()):
    """Rank 0 appends every logged step (loss, lr, grad norm, epoch, tokens/s) to train_log.jsonl."""

    def __init__(self, path: Path):
        self.path = path
        self.last: tuple[float, int] | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        row = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        now, seen = time.time(), state.num_input_tokens_seen
        if self.last and now > self.last[0]:
            row["tokens_per_s"] = round((seen - self.last[1]) / (now - self.last[0]), 1)
        self.last = (now, seen)
        append_jsonl(self.path, [row])


class KeepCheckpoints(_callback_base()):
    """After each save: older checkpoints lose their optimizer state (or go, when only the last is used)."""

    def __init__(self, ckpt_dir: Path, keep_all: bool):
        self.ckpt_dir, self.keep_all = ckpt_dir, keep_all

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            checkpoints.thin(self.ckpt_dir, self.keep_all)


class SaveAtEnd(_callback_base()):
    """The last step is a checkpoint too (Trainer saves only at multiples of save_steps)."""

    def on_step_end(self, args, state, control, **kwargs):
        if args.save_strategy != "no" and state.global_step >= state.max_steps:
            control.should_save = True


if __name__ == "__main__":
    main(sys.argv[1])
