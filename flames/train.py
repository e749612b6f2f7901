"""Stage `train`: supervised fine-tuning of the student with TRL's SFTTrainer.

Examples are conversational prompt/completion pairs rendered with the student's own chat
template; the loss covers the solution only (TRL's completion-only loss).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from flames.config import StudentConfig
from flames.examples import fit_examples
from flames.files import atomic_dir
from flames.jsonl import read_jsonl
from flames.llm.embedded import resolve_model_path
from flames.store import RecordWriter

log = logging.getLogger(__name__)


def train(mixture: Path, out_dir: Path, base_model: str, cfg: Any, prompt: str, history: list | None = None) -> dict:
    """Fine-tune `base_model` on the mixture; the model is saved to out_dir/model (atomically)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(base_model)
    rows = list(read_jsonl(mixture))
    examples, too_long = fit_examples(rows, tok, prompt, cfg.max_length)
    writer = RecordWriter(out_dir)
    writer.drop([{"id": r["id"]} for r in too_long], "too_long")
    if not examples:
        # A sweep cell whose agent kept nothing is a data point, not a crash: evaluate the base model.
        log.warning("train: no training examples in %s (%d rows, all too long or none produced); "
                    "the base model %s is evaluated as is", mixture, len(rows), base_model)
        return {"skipped": "no training examples", "examples": 0, "model": base_model}
    gpu = torch.cuda.is_available()
    ckpt_dir = out_dir / "checkpoints"
    args = SFTConfig(
        output_dir=str(ckpt_dir), learning_rate=cfg.learning_rate, num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay, max_length=cfg.max_length,
        bf16=bool(cfg.bf16 and gpu), use_cpu=not gpu, gradient_checkpointing=cfg.gradient_checkpointing,
        save_strategy=cfg.save_strategy, save_total_limit=cfg.save_total_limit, seed=cfg.seed,
        completion_only_loss=True, report_to="none", logging_steps=1, dataloader_num_workers=0,
        **dict(cfg.extra or {}),
    )
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.bfloat16 if args.bf16 else torch.float32)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tok)
    resume = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.exists() else None
    if resume:
        log.info("train: resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    with atomic_dir(out_dir / "model") as tmp:
        trainer.save_model(str(tmp))
        tok.save_pretrained(str(tmp))
    if history is not None:
        history.extend(h for h in trainer.state.log_history if "loss" in h)
    return {"train_loss": result.training_loss, "steps": result.global_step, "examples": len(examples),
            "model": str(out_dir / "model"), "runtime_s": result.metrics.get("train_runtime")}


def trained_model(artifact_path: Path, metrics: dict) -> str:
    """The model a train artifact stands for: its saved folder, or the base model if it skipped."""
    folder = artifact_path / "model"
    return os.fspath(folder) if folder.exists() else metrics["model"]


def fine_tune(data: Path, out_dir: Path, base_model: str, overrides: dict, prompt: str = "") -> str:
    """Fine-tune `base_model` (a config name) with StudentConfig defaults plus `overrides`; the model folder.

    What agents that train their own generator (QFT) are handed by the synthesize stage.
    """
    cfg = OmegaConf.merge(OmegaConf.structured(StudentConfig(name=base_model)), overrides)
    metrics = train(data, out_dir, resolve_model_path(base_model), cfg, prompt=prompt)
    return trained_model(out_dir, metrics)
