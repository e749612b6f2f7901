"""A blend gets the shares it is named for: FLAMES Large at 1/100 on a scripted backend, and a short share stops
the mix under `mixture.shortfall=error` (experiment=paper) or is logged and mixed under `warn`."""

from __future__ import annotations

import json

import pytest

from flames.config import ConfigError
from flames.mix import mix
from flames.pipeline import Pipeline
from flames.report import mixture_lines
from tests.helpers import compose_config
from tests.test_topup import agent_reply


def pool(path, n):
    path.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"q{i}", "solution": "s"}) + "\n" for i in range(n)))
    return path


@pytest.mark.slow
def test_flames_large_at_one_hundredth_gives_every_agent_its_share(scripted_backend):
    """1M at 1/100: 5,000 / 2,000 / 2,000 / 1,000 problems, each agent drawing its seeds up to 64 times."""
    scripted_backend(agent_reply)
    cfg = compose_config(["logger=none", "stage=mix", "mixture=flames_large", "mixture.budget_cap=10000",
                          "mixture.shortfall=error", "+mixture.agent_overrides.chunk_size=500",
                          "seeds.builtin_count=1000", "solve.num_samples=1", "qc.decontam.enabled=false"])
    res = Pipeline(cfg).run()
    mixed = next(r for r in res.results if r.stage == "mix").manifest["metrics"]
    assert sum(mixed["taken"].values()) == 10_000 and not mixed["shortfall"]
    for agent, weight in cfg.mixture.weights.items():
        assert abs(mixed["shares"][agent] - weight) <= 0.01 * weight, (agent, mixed["shares"])
    (line,) = mixture_lines(res.results)
    assert line.startswith("Mixture shares: ") and "suggester_editor 50.0% (5,000)" in line


def test_a_share_short_by_more_than_the_tolerance_stops_the_mix_before_writing(tmp_path):
    sources = {"a": pool(tmp_path / "a.jsonl", 50), "b": pool(tmp_path / "b.jsonl", 40)}
    with pytest.raises(ConfigError, match=r"mix: b has 40 of its 50 .*mixture.shortfall=warn"):
        mix(sources, {"a": 0.5, "b": 0.5}, tmp_path / "out", 100, shortfall="error")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_within_the_tolerance_or_under_warn_the_mix_takes_what_there_is(tmp_path, caplog):
    sources = {"a": pool(tmp_path / "a.jsonl", 500), "b": pool(tmp_path / "b.jsonl", 497)}
    out = mix(sources, {"a": 0.5, "b": 0.5}, tmp_path / "ok", 1000, shortfall="error")  # 3 short of 500: 0.6%
    assert out["taken"] == {"a": 500, "b": 497} and out["shortfall"] == {"b": 3}
    assert out["shares"] == {"a": round(500 / 997, 6), "b": round(497 / 997, 6)}
    sources["b"] = pool(tmp_path / "b.jsonl", 100)
    warned = mix(sources, {"a": 0.5, "b": 0.5}, tmp_path / "warned", 1000)
    assert warned["shortfall"] == {"b": 400} and "b has 100 of its 500" in caplog.text


def test_a_shortfall_policy_other_than_warn_or_error_is_refused():
    from flames.checks import check_values

    with pytest.raises(ConfigError, match="mixture.shortfall"):
        check_values(compose_config(["logger=none", "mixture.shortfall=stop"]))


def test_experiment_paper_stops_on_a_short_share():
    assert compose_config(["logger=none", "experiment=paper"]).mixture.shortfall == "error"
    assert compose_config(["logger=none"]).mixture.shortfall == "warn"
