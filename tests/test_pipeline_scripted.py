"""Pipeline control flow with a scripted LLM: stage order, reuse, counts, mixtures."""

import re

import pytest

import flames.llm as llm_mod
from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from tests.conftest import problem_from_prompt
from tests.helpers import compose_config


def reply(prompt, k):
    if "Rephrase the above question:" in prompt:
        return "Rephrased problem: " + problem_from_prompt(prompt).replace(" has ", " owns ")
    if "Irrelevant detail:" in prompt:
        return "It is sunny today."
    nums = re.findall(r"\d+", prompt)
    ans = int(nums[0]) if nums else 0
    return f"We add things up. The answer is \\boxed{{{ans + (k == 2)}}}."  # the third sample disagrees


@pytest.fixture
def fake_llm(scripted_backend):
    return scripted_backend(reply)


def run(overrides):
    cfg = compose_config(["logger=none", "stage=mix", "agent=paraphrase", "agent.num_problems=6", *overrides])
    return Pipeline(cfg).run()


def test_stages_run_in_order_with_counts(fake_llm):
    res = run([])
    assert [r.stage for r in res.results] == ["synthesize", "problem_qc", "solve", "solution_qc", "mix"]
    syn, pqc, solve, sqc, mix = (r.manifest for r in res.results)
    assert syn["records_out"] >= 6 and syn["llm_calls"] >= 1
    assert pqc["records_out"] >= 6 and solve["records_out"] == 6  # the view of agent.num_problems=6
    assert sqc["records_out"] == solve["records_out"]  # qc=first keeps every problem
    assert mix["records_out"] == sqc["records_out"]
    rows = list(read_jsonl(res.results[2].artifact.data))
    assert all(len(r["solutions"]) == 3 for r in rows)


def test_changing_qc_reuses_synthesis_and_solutions(fake_llm):
    run([])
    res = run(["qc=majority"])
    assert sum(res.calls.values()) == 0  # no new LLM call at all up to mix
    status = {r.stage: r.reused for r in res.results}
    assert status == {"synthesize": True, "problem_qc": True, "solve": True, "solution_qc": False, "mix": False}


def test_rerun_reuses_everything(fake_llm):
    run([])
    n = len(fake_llm.calls)
    res = run([])
    assert all(r.reused for r in res.results) and len(fake_llm.calls) == n


def test_strict_and_majority_counts_and_votes(fake_llm):
    strict = run(["qc=strict"]).results[3]
    n = strict.manifest["records_in"]
    assert n >= 6 and strict.manifest["records_out"] == 0 and sum(strict.manifest["dropped"].values()) == n
    majority = run(["qc=majority"]).results[3]
    rows = list(read_jsonl(majority.artifact.data))
    assert len(rows) == n
    assert all(sorted(r["qc"]["votes"].values()) == [1, 2] and r["qc"]["chosen"] == 0 for r in rows)


def test_blend_takes_weighted_shares_to_budget(fake_llm):
    res = run(["mixture=blend", "mixture.budget=6", "mixture.agents.paraphrase.num_problems=6",
               "mixture.agents.distraction_insertion.num_problems=6"])
    mix = res.results[-1].manifest
    assert mix["metrics"]["taken"] == {"paraphrase": 3, "distraction_insertion": 3}
    agents = {r.label for r in res.results if r.stage == "synthesize"}
    assert agents == {"paraphrase", "distraction_insertion"}


def test_decontamination_drops_benchmark_copies(fake_llm, monkeypatch):
    from flames import builtin

    test_items = builtin.test_set(3)
    monkeypatch.setattr(builtin, "seeds", lambda n: [dict(t, id=f"leak-{i}") for i, t in enumerate(test_items)])
    fake_llm.reply = lambda p, k: "Consider this. " + problem_from_prompt(p)  # a verbatim copy with a prefix
    res = run(["agent.num_problems=3", "stage=problem_qc", "benchmarks.builtin_count=3"])
    pqc = res.results[1]
    dropped = list(read_jsonl(pqc.artifact.path / "dropped.jsonl"))
    assert pqc.manifest["records_out"] == 0 and len(dropped) == 3
    assert {d["benchmark_id"] for d in dropped} == {t["id"] for t in test_items}
    assert pqc.manifest["metrics"]["contaminated_by_benchmark"] == {"builtin": 3}


def test_fixed_size_subsamples_the_same_problems_across_strategies(fake_llm):
    first = run(["qc=first", "qc.fixed_size=3"]).results[3]
    mfirst = run(["qc=majority_first", "qc.fixed_size=3"]).results[3]
    ids = lambda art: [r["id"] for r in read_jsonl(art.artifact.data)]  # noqa: E731
    assert len(ids(first)) == 3 and ids(first) == ids(mfirst)
    assert first.manifest["dropped"] == {"fixed_size": first.manifest["records_in"] - 3}


def test_agent_costs_count_calls_and_tokens_per_problem_after_qc(fake_llm):
    from flames.agent_costs import agent_costs, cost_table

    res = run(["stage=problem_qc"])
    (row,) = agent_costs(res.results)
    syn, pqc = (r.manifest for r in res.results)
    assert row["agent"] == "paraphrase" and row["after_problem_qc"] == pqc["records_out"] >= 6
    assert row["calls_per_problem"] == round(syn["llm_calls"] / pqc["records_out"], 2)
    tokens = syn["prompt_tokens"] + syn["completion_tokens"]
    assert row["tokens_per_problem"] == round(tokens / pqc["records_out"], 2) and tokens > 0
    assert "paraphrase" in cost_table([row]).splitlines()[2]


def test_decontamination_checks_only_the_benchmarks_named(fake_llm):
    from flames.config import ConfigError
    from flames.stages import Shared

    cfg = compose_config(["benchmarks=builtin", "qc.decontam.against=[builtin]"])
    assert list(Shared(cfg).references()) == ["builtin"]
    with pytest.raises(ConfigError, match="gsm8k"):
        Shared(compose_config(["qc.decontam.against=[gsm8k]"])).references()


def test_qft_tunes_its_generator_as_its_own_stage_and_synthesize_samples_from_it(scripted_backend, monkeypatch):
    """Issue 11: QFT is two jobs: `tune` (training, its own artifact and resources) then synthesize."""
    import flames.stages.tune as stages  # where the tune stage finds fine_tune

    events = []
    monkeypatch.setattr(llm_mod.ModelPool, "release", lambda self: events.append("release"))

    def fine_tune(data, out, base_model, overrides, distributed, processes):
        events.append(("fine_tune", len(list(read_jsonl(data))), base_model))
        (out / "model").mkdir()
        return str(out / "model")

    monkeypatch.setattr(stages, "fine_tune", fine_tune)
    models = []
    llm = scripted_backend(lambda p, k: "Ann has 5 cats and 2 dogs. How many pets does she have?")
    monkeypatch.setattr(llm_mod, "load_llm", lambda cfg: models.append(cfg.name) or llm)
    res = run(["agent=qft", "agent.train_seeds=3", "agent.samples_per_seed=2", "stage=synthesize"])
    tune, syn = res.results
    assert (tune.stage, syn.stage) == ("tune", "synthesize")
    assert events == ["release", ("fine_tune", 3, "embedded:smollm2-135m-instruct")]  # nothing loaded while training
    assert tune.manifest["records_out"] == 3 and syn.manifest["inputs"]["generator"]["key"] == tune.artifact.key
    assert models == [str(tune.artifact.path / "model")]  # synthesize samples from the tuned model
    assert {r["intermediate"]["generator"] for r in syn.artifact.records()} == {str(tune.artifact.path / "model")}
    events.clear()
    again = run(["agent=qft", "agent.train_seeds=3", "agent.samples_per_seed=2", "stage=synthesize",
                 "agent.num_problems=2"])
    # a smaller target keeps the generator, and the synthesize pool serves it (0.5: sizes are not in its key)
    assert [r.reused for r in again.results] == [True, True] and events == []
    other = run(["stage=synthesize"])  # an agent that does not tune a generator has no tune stage
    assert [r.stage for r in other.results] == ["synthesize"]
