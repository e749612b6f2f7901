"""mix: the agents' kept problems blended by the mixture's weights and budget, or an external SFT dataset."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from flames.config import ConfigError, MixtureConfig
from flames.datasets import dataset_fingerprint
from flames.mix import mix, mix_external
from flames.scores.filters import check_filters, selector
from flames.stages.base import Stage


def mixture_weights(cfg: DictConfig) -> dict[str, float]:
    """Agent label -> share: 100% of `agent` for mixture=single, else the blend's weights."""
    m = cfg.mixture
    return {cfg.agent.name: 1.0} if m.name == "single" else dict(m.weights)


def score_filters(cfg: DictConfig) -> dict:
    """mixture.filters, checked (flames.scores.filters); an external dataset has no scores to filter on."""
    given = cfg.mixture.get("filters")
    given = OmegaConf.to_container(given) if OmegaConf.is_config(given) else dict(given or {})
    filters = check_filters({name: want for name, want in given.items() if want is not None})
    if filters and cfg.mixture.dataset:
        raise ConfigError("mixture.filters: scores exist for the agents' pools only, not for mixture.dataset")
    return filters


def external_dataset(cfg: DictConfig) -> str | None:
    """The SFT dataset the mixture trains on instead of the agents' output (mixture=external), or None."""
    m = cfg.mixture
    if m.name == "external" and not m.dataset:
        raise ConfigError("mixture=external needs mixture.dataset=<a JSONL file, a dataset folder or a hub id>")
    if m.dataset and m.weights:  # a blend's agents would be silently left out
        raise ConfigError(f"mixture {m.name}: mixture.dataset and mixture.weights are exclusive (mixture=external)")
    return m.dataset or None


class Mix(Stage):
    def slice(self, job, inputs):
        out = super().slice(job, inputs)
        if job.cfg.mixture.get("budget_cap") is not None:  # keyed only when set: earlier mixes keep their keys
            out["mixture.budget_cap"] = job.cfg.mixture.budget_cap
        filters = score_filters(job.cfg)
        if filters:  # likewise
            out["mixture.filters"] = filters
        return out

    def fingerprints(self, job, inputs):
        m = job.cfg.mixture
        if external_dataset(job.cfg):
            return {"dataset": dataset_fingerprint(m.dataset, m.split, m.fields)}
        # the views it draws from: the agents' pools are keyed without their sizes
        return {"weights": mixture_weights(job.cfg), "views": dict(job.views)}

    def run(self, job, inputs, out):
        m = job.cfg.mixture
        if external_dataset(job.cfg):
            return mix_external(m.dataset, m.split, m.fields, out, MixtureConfig.budget_of(m), m.seed)
        return mix({k: a.data for k, a in inputs.items()}, mixture_weights(job.cfg), out, MixtureConfig.budget_of(m), m.seed,
                   views=job.views, shortfall=m.shortfall, tolerance=m.shortfall_tolerance,
                   select=selector(score_filters(job.cfg)))
