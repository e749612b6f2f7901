"""Data agents: programs over an LLM that turn seed problems into new problems.

An agent is three files: its module here (a subclass of `flames.agents.base.Agent`, whose
`Config` dataclass is its schema), its prompt file(s) under prompts/, and its yaml under
conf/agent/ naming the class in `_target_`. Nothing else lists agents.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from flames.checks import check_values
from flames.config import ConfigError
from flames.config.root import CONF_DIR
from flames.parts import find_class

CONF_AGENTS = CONF_DIR / "agent"  # the shipped agent configs


def shipped_agents() -> list[str]:
    """The agents that ship with flames (their conf/agent/<name>.yaml), sorted."""
    return sorted(p.stem for p in CONF_AGENTS.glob("*.yaml"))


def agent_class(target: str) -> type:
    """The agent class a `_target_` path names; a bare name means the shipped conf/agent/<name>.yaml."""
    if "." not in target:
        path = CONF_AGENTS / f"{target}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown agent {target!r}; known: {', '.join(shipped_agents())}")
        target = OmegaConf.load(path)["_target_"]
    return find_class(target, what="agent")


def typed_config(cfg: Any) -> DictConfig:
    """An agent config checked against its class's schema: unknown keys and bad values fail here."""
    cls = agent_class(cfg["_target_"])
    try:
        typed = OmegaConf.merge(OmegaConf.structured(cls.Config), cfg)
        check_values(typed, "agent")
        return typed
    except OmegaConfBaseException as e:
        first = str(e.msg).splitlines()[0]  # OmegaConf appends full_key/object_type lines
        raise ConfigError(f"agent.{e.full_key}: {first} (agent {cfg.get('name', '?')}: "
                          f"{cls.__module__}.{cls.__name__})") from None


def build_agent(cfg, llm, sampling, log_call=None, model_cfg=None, generator=None):
    """Instantiate the agent a config names (`generator`: the model the tune stage fine-tuned for it)."""
    return agent_class(cfg._target_)(cfg, llm, sampling, log_call, model_cfg, generator)
