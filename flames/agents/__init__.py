"""Data agents: programs over an LLM that turn seed problems into new problems.

Each agent has a module here (a subclass of `flames.agents.base.Agent`), prompt files under
prompts/, and a config in conf/agent/. The agent class's `Config` is its config schema.
"""

from __future__ import annotations

import importlib

# name -> module:class. Modules are light (no model code), so registering schemas imports them.
REGISTRY = {
    "paraphrase": "flames.agents.paraphrase:Paraphrase",
    "distraction_insertion": "flames.agents.distraction_insertion:DistractionInsertion",
    "qft": "flames.agents.qft:QFT",
    "few_shot": "flames.agents.few_shot:FewShot",
    "key_concepts": "flames.agents.key_concepts:KeyConcepts",
    "seeded_key_concepts": "flames.agents.seeded_key_concepts:SeededKeyConcepts",
    "taxonomy_key_concepts": "flames.agents.taxonomy_key_concepts:TaxonomyKeyConcepts",
    "suggester_editor": "flames.agents.suggester_editor:SuggesterEditor",
    "iqc": "flames.agents.iqc:IQC",
    "ask_me_anything": "flames.agents.ask_me_anything:AskMeAnything",
    "self_verification": "flames.agents.self_verification:SelfVerification",
    "fobar": "flames.agents.fobar:Fobar",
}


def agent_class(name: str) -> type:
    if name not in REGISTRY:
        raise ValueError(f"unknown agent {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def register_schemas() -> None:
    """Give Hydra every agent's config schema (conf/agent/<name>.yaml validates against it)."""
    from flames.config import register_agent_schema

    for name in REGISTRY:
        register_agent_schema(name, agent_class(name).Config)


def build_agent(cfg, llm, sampling, log_call=None, model_cfg=None):
    """Instantiate the agent a config names."""
    return agent_class(cfg.name)(cfg, llm, sampling, log_call, model_cfg)
