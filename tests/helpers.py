"""Test helpers: the real config tree without the CLI (as a notebook would), agents on a scripted LLM, the
CLI itself in-process (`run_cli`)."""

from __future__ import annotations

import contextlib
import logging
import re
import sys

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from flames import cli
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


@contextlib.contextmanager
def hydra_app_state():
    """Hydra's app leaves itself initialized and the root logger writing to the job's log file and to this
    test's stdout: both go back to how they were, so later tests in this process compose and log as before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)


def run_cli(monkeypatch, args: list[str]):
    """`flames <args>` in this process, as the command line runs it (`flames.cli.main()`, from the current
    folder), Hydra's state restored after: the code it exits with (0 when it returns; a SystemExit's code, which
    may be None)."""
    monkeypatch.setattr(sys, "argv", ["flames", *args])
    with hydra_app_state():
        try:
            cli.main()
        except SystemExit as e:  # flames and Hydra exit on an error
            return e.code
    return 0
