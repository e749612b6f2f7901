"""Every config composes; misspelled keys fail at compose time naming the key."""

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from flames.cli import CONF_DIR
from tests.helpers import compose_config

GROUPS = ["agent", "qc", "problem_model", "solution_model", "mixture", "student", "seeds", "benchmarks", "logger",
          "experiment", "agent_scale", "rehearsal"]


def options(group):
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group, option, monkeypatch):
    monkeypatch.setenv("FLAMES_DATA_DIR", "/data")  # paper seeds interpolate it
    cfg = compose_config([f"{group}={option}"])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def test_default_is_the_embedded_quickstart():
    cfg = compose_config()
    assert cfg.problem_model.name == cfg.solution_model.name == cfg.student.name == "embedded:smollm2-135m-instruct"
    assert cfg.seeds.path is None and not cfg.seeds.files and cfg.benchmarks.names == ["builtin"]
    assert cfg.logger.name == "wandb" and cfg.logger.mode == "offline"


def test_paper_preset_has_the_papers_settings(monkeypatch):
    monkeypatch.setenv("FLAMES_DATA_DIR", "/data")
    cfg = compose_config(["experiment=paper", "agent=suggester_editor"])
    assert cfg.experiment == "paper"  # the W&B group and run folder say so
    assert cfg.problem_model.name == "Qwen/Qwen2.5-32B-Instruct"
    # the agents' short CPU budgets do not cap the 32B model: it gets the paper's 2,048 tokens
    assert cfg.agent.max_new_tokens is None and cfg.problem_model.max_new_tokens == 2048
    assert cfg.solution_model.name == "Qwen/Qwen2.5-Math-7B-Instruct"
    sm = cfg.solution_model
    assert (sm.temperature, sm.top_p, sm.top_k, sm.max_new_tokens) == (0.7, 0.9, 50, 2048)
    assert cfg.student.name == "deepseek-ai/deepseek-math-7b-base" and cfg.student.num_train_epochs == 5
    assert cfg.agent.num_problems == 150000 and cfg.qc.strategy._target_ == "flames.qc.solution.First"
    assert cfg.seeds.files == ["/data/seeds/gsm8k_train.jsonl", "/data/seeds/math_train.jsonl"]


@pytest.mark.parametrize("agent", options("agent"))
def test_paper_experiment_gives_each_agent_its_paper_variant(agent, monkeypatch):
    """experiment=paper agent=<each> composes and type-checks; conf/agent/<name>/paper.yaml's keys win, and the
    quickstart yaml sets each of them explicitly (to another value). The values equal the class's defaults."""
    from flames.agents import agent_class, typed_config

    monkeypatch.setenv("FLAMES_DATA_DIR", "/data")
    quick = typed_config(compose_config([f"agent={agent}"]).agent)
    paper = typed_config(compose_config(["experiment=paper", f"agent={agent}"]).agent)
    assert paper.num_problems == 150000 and paper.max_new_tokens is None and paper.name == agent
    variant = Path(CONF_DIR) / "agent" / agent / "paper.yaml"
    knobs = OmegaConf.to_container(OmegaConf.load(variant)) if variant.exists() else {}
    shipped = OmegaConf.load(Path(CONF_DIR) / "agent" / f"{agent}.yaml")
    defaults = agent_class(agent).Config(name=agent)
    for key, value in knobs.items():
        assert key in shipped and quick[key] == shipped[key] != value == paper[key] == getattr(defaults, key), key
    multi_step = {"iqc", "ask_me_anything", "suggester_editor", "key_concepts"}
    assert (agent not in multi_step) or knobs, f"{agent} has no paper variant"


def test_a_blend_under_experiment_paper_gets_its_agents_paper_variants(monkeypatch, tmp_path):
    (tmp_path / "mixture").mkdir()
    (tmp_path / "mixture" / "complex.yaml").write_text(
        "defaults:\n  - /agent@agents.iqc: iqc\n  - /agent@agents.suggester_editor: suggester_editor\n  - _self_\n"
        "name: complex\nweights: {iqc: 0.5, suggester_editor: 0.5}\n")
    monkeypatch.setenv("FLAMES_DATA_DIR", "/data")
    for scale, iterations, lines in (([], 1, 1), (["experiment=paper"], 4, None)):
        cfg = compose_config([f"hydra.searchpath=[file://{tmp_path}]", "mixture=complex", *scale])
        agents = cfg.mixture.agents
        assert (agents.iqc.iterations, agents.suggester_editor.suggestion_lines) == (iterations, lines)


@pytest.mark.parametrize("override,key", [
    ("agent.num_problemz=3", "agent.num_problemz"),
    ("qc.stratgy=first", "qc.stratgy"),
    ("student.learning_rat=1", "student.learning_rat"),
    ("solution_model.temprature=1", "solution_model.temprature"),
    ("seeds.pth=x", "seeds.pth"),
])
def test_misspelled_key_fails_naming_it(override, key):
    with pytest.raises(ConfigCompositionException, match=key.replace(".", r"\.")):
        compose_config([override])


def test_wrong_type_fails():
    with pytest.raises(ConfigCompositionException):
        compose_config(["student.learning_rate=fast"])


def test_agent_knobs_are_checked_against_the_agent_class_before_any_stage(tmp_path):
    """Agent configs are typed by their class's Config when the pipeline starts (no model loads)."""
    from flames.agents import typed_config
    from flames.config import ConfigError

    with pytest.raises(ConfigError, match="num_problems"):
        typed_config(compose_config(["agent.num_problems=many"]).agent)
    with pytest.raises(ConfigError, match="roundz"):
        typed_config(compose_config(["agent=suggester_editor", "+agent.roundz=3"]).agent)
    assert typed_config(compose_config(["agent=suggester_editor", "agent.rounds=3"]).agent).rounds == 3


def test_a_bad_agent_knob_ends_in_one_line_and_exit_code_2(tmp_path):
    """Checked before a W&B run or a model starts; no traceback."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "flames", "agent=suggester_editor", "+agent.roundz=2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "agent.roundz" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "outputs" / "store").exists()  # nothing ran


def test_paper_presets_size_every_agent_of_a_mixture_and_use_the_papers_qc(monkeypatch):
    from flames.pipeline import Pipeline

    monkeypatch.setenv("FLAMES_DATA_DIR", "/data")
    cfg = compose_config(["experiment=paper", "mixture=flames_small", "logger=none"])
    agents = Pipeline(cfg).agent_cfgs
    assert {k: a.num_problems for k, a in agents.items()} == {
        "suggester_editor": 75000, "iqc": 30000, "taxonomy_key_concepts": 30000, "distraction_insertion": 15000}
    assert all(a.max_new_tokens is None and a.chunk_size == 4096 for a in agents.values())  # not the CPU budgets
    assert (cfg.qc.decontam.mode, list(cfg.qc.decontam.against)) == ("paper", ["gsm8k", "math"])
    assert cfg.qc.reward_model.name == "internlm/internlm2-7b-reward"
    for name, budget in (("flames_large", 1_000_000), ("flames_xl", 1_500_000)):
        big = Pipeline(compose_config(["experiment=paper", f"mixture={name}", "logger=none"])).agent_cfgs
        assert sum(a.num_problems for a in big.values()) == budget and big["iqc"].num_problems == budget // 5
    ours = compose_config(["experiment=flames"])
    assert (ours.qc.decontam.mode, list(ours.qc.decontam.against)) == ("near_copy", [])
    assert ours.problem_model.name == cfg.problem_model.name
