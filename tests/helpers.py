"""Compose the real config tree without the CLI (as a notebook would)."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from flames.cli import CONF_DIR
from flames.config import register_configs


def compose_config(overrides: list[str] | None = None):
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides or []))
