"""The dry run's feasibility checks (flames.feasibility): GPU memory, reachable problems and time, from configs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from flames import feasibility
from flames.config import ModelShape, Resources
from tests.helpers import compose_config, run_cli

DEEPSEEK_7B = ModelShape(params_b=6.91, layers=30, hidden=4096, kv_heads=32, head_dim=128, vocab=102400)
QWEN_32B = ModelShape(params_b=32.76, layers=64, hidden=5120, kv_heads=8, head_dim=128, vocab=152064)
STUDENT = OmegaConf.create({"per_device_train_batch_size": 4, "max_length": 4096, "gradient_checkpointing": True})


def test_training_memory_per_strategy():
    """DDP keeps 16 bytes per parameter on every GPU; ZeRO-3 splits DeepSpeed's 18 over them, plus the
    largest layer (the embedding) gathered in fp32: deepspeed's estimate_zero3_model_states_mem_needs."""
    ddp = feasibility.training_gb(DEEPSEEK_7B, STUDENT, "ddp", 8)
    zero3 = feasibility.training_gb(DEEPSEEK_7B, STUDENT, "zero3", 8)
    assert ddp["states"] == pytest.approx(16 * 6.91e9 / 1024**3)  # ~103 GB: more than an 80 GB card
    assert zero3["states"] == pytest.approx((18 * 6.91e9 / 8 + 4 * 102400 * 4096) / 1024**3)
    assert ddp["total"] > 80 > zero3["total"]
    assert feasibility.training_gb(DEEPSEEK_7B, STUDENT, "fsdp", 8)["states"] == pytest.approx(ddp["states"] / 8)


def test_inference_memory_counts_weights_and_kv_cache_per_tensor_parallel_rank():
    one = {"dtype": "bfloat16", "tensor_parallel_size": 1, "max_model_len": 4096, "gpu_memory_utilization": 0.92}
    fits, detail = feasibility.inference_fit(QWEN_32B, one, 80)
    assert fits and "61.0 GB weights" in detail  # 32.76B x 2 bytes on one GPU; KV left for a few sequences
    fits, detail = feasibility.inference_fit(QWEN_32B, one, 40)
    assert not fits  # 61 GB of weights on a 40 GB card
    assert feasibility.inference_fit(QWEN_32B, {**one, "tensor_parallel_size": 2}, 40)[0]


def test_capacity_is_seeds_times_draws_per_dataset():
    agent = OmegaConf.create({"_target_": "flames.agents.suggester_editor.SuggesterEditor",
                              "name": "suggester_editor", "num_problems": 750_000, "max_draws": 32})
    seeds = OmegaConf.create({"files": ["a", "b"], "sizes": {"gsm8k": 7473, "math": 7500},
                              "shares": {"gsm8k": 0.5, "math": 0.5}, "limit": None})
    short = feasibility.capacity(agent, seeds)
    assert short.ok is False and "max_draws to 51" in short.detail and "gsm8k 239,136 < 375,000" in short.detail
    agent.max_draws = 64
    assert feasibility.capacity(agent, seeds).ok
    taxonomy = OmegaConf.create({**agent, "_target_": "flames.agents.taxonomy_key_concepts.TaxonomyKeyConcepts"})
    assert feasibility.capacity(taxonomy, seeds) is None  # its inputs are topics, not seeds


@pytest.mark.parametrize("agent", ["fobar", "self_verification"])
def test_a_masking_agent_reaches_one_problem_per_maskable_number_of_each_seed(agent):
    """FOBAR and Self-Verification hide another number on each draw of a seed (never one twice), so a seed gives
    at most as many problems as it has numbers: the capacity check counts them seed by seed."""
    from flames.agents.masking import maskable_numbers
    from flames.seeds import load_seeds

    seeds = OmegaConf.create({"files": [], "path": None, "builtin_count": 64, "limit": None, "shuffle_seed": 0})
    reach = sum(min(5, maskable_numbers(s)) for s in load_seeds(seeds))
    assert 64 < reach < 64 * 5  # the built-in seeds have 1 to several numbers: the cap binds
    cfg = OmegaConf.create({"_target_": f"flames.agents.{agent}.{'Fobar' if agent == 'fobar' else 'SelfVerification'}",
                            "name": agent, "num_problems": reach, "max_draws": 5})
    assert feasibility.capacity(cfg, seeds).ok
    cfg.num_problems = reach + 1
    short = feasibility.capacity(cfg, seeds)
    assert short.ok is False and f"at most {reach:,} distinct problems" in short.detail


def test_time_counts_the_requeues_a_task_is_granted():
    day = Resources(gpus=1, time_min=1440)
    assert [v.ok for v in feasibility.time_checks("synthesize", 68.0, day, 3)] == [True]  # 3 jobs of 24 h
    (late,) = feasibility.time_checks("synthesize", 120.0, day, 3)
    assert late.ok is False and "5 job(s) of 24 h (at most 4)" in late.detail
    assert feasibility.time_checks("mix", 0.0, Resources(gpus=0), 3) == []  # no GPU: nothing to spend


def test_a_training_task_over_several_jobs_needs_a_checkpoint_in_each():
    """FLAMES XL trains ~178 h on one 8-GPU node: 8 jobs of 24 h, each resuming from the last checkpoint, so a
    checkpoint must come within every job (10 checkpoints: every 17.8 h)."""
    node = Resources(gpus=8, time_min=1440)
    (chained,) = feasibility.time_checks("train", 8 * 177.8, node, 8, checkpoints=10)
    assert chained.ok and "8 job(s) of 24 h (at most 9), a checkpoint every 17.8 h" in chained.detail
    (starts_over,) = feasibility.time_checks("train", 8 * 177.8, node, 8, checkpoints=3)
    assert starts_over.ok is False and "a checkpoint only every 59.3 h" in starts_over.detail
    assert feasibility.time_checks("train", 8 * 20.0, node, 0, checkpoints=1)[0].ok  # one job: no checkpoint needed


PAPER_OFFLINE = ["experiment=paper", "seeds=builtin", "benchmarks=builtin", "qc.decontam.against=[]",
                 "agent.num_problems=150", "study.dry_run=true"]  # the built-in 64 seeds: 192 maskable numbers (FOBAR, SV)


def test_a_paper_dry_run_with_ddp_exits_2_naming_the_train_stage_and_its_gb(monkeypatch, capsys):
    """experiment=paper composes ZeRO-3; DDP for the 7B student needs more than an 80 GB card holds."""
    assert compose_config(["experiment=paper"]).distributed.name == "zero3"
    assert run_cli(monkeypatch, ["study=table2_agents", *PAPER_OFFLINE]) == 0
    out = capsys.readouterr().out
    assert "Feasibility" in out and " NO " not in out
    assert run_cli(monkeypatch, ["study=table2_agents", *PAPER_OFFLINE, "distributed=ddp"]) == 2
    err = capsys.readouterr().err
    assert "flames: error: study table2_agents: 13 infeasible" in err and "train [agent=few_shot] memory" in err
    assert "tune [agent=qft agent.train_seeds=15000" in err  # QFT's fine-tune of the 32B problem model too
    assert "GB per GPU of 80 (ddp on 8 GPUs" in err


def test_experiment_paper_composes_the_papers_protocol():
    cfg = compose_config(["experiment=paper"])
    assert (cfg.student.selection, cfg.grading.mode, cfg.student.num_checkpoints) == ("paper", "qwen", 10)
    assert cfg.benchmarks.suite.gsmplus.source == cfg.benchmarks.suite.gsmplus_distraction.source == "hub"
    assert cfg.benchmarks.suite.gsmplus.hub_split == "test"
    table5 = compose_config(["study=table5_models"]).study.axes
    assert "deepseek-math-7b-rl" in table5.solution_model
    rl = compose_config(["solution_model=deepseek-math-7b-rl"]).solution_model
    assert rl.name == "deepseek-ai/deepseek-math-7b-rl"


def test_a_report_on_the_local_testmini_says_it_is_not_the_papers_set():
    from flames.benchmarks import local_notes

    local = compose_config(["benchmarks=paper"]).benchmarks
    assert [n.split(":")[0] for n in local_notes(local)] == ["gsmplus", "gsmplus_distraction"]
    assert "testmini" in local_notes(local)[0]
    assert local_notes(compose_config(["experiment=paper"]).benchmarks) == []  # the full test, from the hub


def test_rehearsal_caps_a_paper_mixture_and_keeps_its_shares(tmp_path):
    """rehearsal=cpu shrinks FLAMES XL's 1.5M to 16 examples (the budget_cap), each agent its share; before, the
    paper's budget overrode the rehearsal's sizes and a CPU task was asked for 750K problems."""
    from flames.pipeline import Pipeline

    cfg = compose_config(["experiment=paper", "mixture=flames_xl", "rehearsal=cpu", "seeds=builtin",
                          "benchmarks=builtin", "qc.decontam.against=[]", "logger=none"])
    sizes = {name: agent.num_problems for name, agent in Pipeline(cfg).agent_cfgs.items()}
    assert sizes == {"suggester_editor": 8, "iqc": 3, "taxonomy_key_concepts": 3, "distraction_insertion": 2}
    paper = compose_config(["experiment=paper", "mixture=flames_xl", "seeds=builtin", "benchmarks=builtin",
                            "qc.decontam.against=[]", "logger=none"])
    assert Pipeline(paper).agent_cfgs["suggester_editor"].num_problems == 750_000
    assert Pipeline(paper).agent_cfgs["suggester_editor"].max_draws == 64  # reaches 375K per seed set
