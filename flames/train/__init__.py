"""Training: the train stage (`run.train`), its worker processes (`worker`, under torchrun), the batch
layout and launch command (`plan`), and checkpoint bookkeeping (`checkpoints`)."""

from flames.train.run import checkpoint_folders, fine_tune, train, trained_model

__all__ = ["checkpoint_folders", "fine_tune", "train", "trained_model"]
