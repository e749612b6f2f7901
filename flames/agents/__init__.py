"""Data agents: programs over an LLM that turn seed problems into new problems.

Each agent has a module here, a prompt file under prompts/, and a config in conf/agent/.
"""

from __future__ import annotations

from flames.config import AgentConfig, register_agent_schema

# name -> (module, class); imported on use so `import flames.agents` stays light.
REGISTRY = {
    "paraphrase": ("flames.agents.paraphrase", "Paraphrase"),
    "distraction_insertion": ("flames.agents.distraction_insertion", "DistractionInsertion"),
}

for _name in REGISTRY:
    register_agent_schema(_name, AgentConfig)


def build_agent(cfg, llm, sampling, log_call=None):
    """Instantiate the agent a config names."""
    import importlib

    if cfg.name not in REGISTRY:
        raise ValueError(f"unknown agent {cfg.name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[cfg.name]
    return getattr(importlib.import_module(module), cls)(cfg, llm, sampling, log_call)
