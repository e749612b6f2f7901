"""Test helpers: the real config tree without the CLI (as a notebook would), agents on a scripted LLM."""

from __future__ import annotations

import re

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from flames.agents import agent_class

from flames.cli import CONF_DIR
from flames.config import register_configs
from flames.llm import Sampling


def compose_config(overrides: list[str] | None = None):
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides or []))


def shipped_knobs(name: str, scale: str = "quickstart") -> dict:
    """The knobs conf/agent/<name>.yaml composes to at `agent_scale=<scale>` (quickstart | paper), for make_agent."""
    agent = compose_config([f"agent={name}", f"agent_scale={scale}", "logger=none"]).agent
    return {k: v for k, v in OmegaConf.to_container(agent).items() if k not in ("_target_", "name")}


def make_agent(name, scripted, reply, **knobs):
    """Agent `name` (its own Config with `knobs`) on `scripted(reply)`: (agent, llm, the calls it logged)."""
    llm = scripted(reply)
    calls = []
    cls = agent_class(name)
    agent = cls(cls.Config(name=name, **knobs), llm, Sampling(), log_call=lambda **kw: calls.append(kw))
    return agent, llm, calls


def last_slot(prompt: str, label: str) -> str:
    """The value of the last `label:` line of a prompt (the slot the agent filled)."""
    return re.findall(rf"^{label}: (.*)$", prompt, re.M)[-1]
