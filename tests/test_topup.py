"""Top-up (issue 18): generation artifacts are pools keyed without their sizes. Asking for more grows them (only the
difference is requested), asking for fewer reads a view of them (no request), and what was built on a smaller view
stays valid. Scripted backend: requests are counted where the backend receives them."""

from __future__ import annotations

import json
import re

import pytest

from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from flames.store import main as store_main
from flames.views import in_view, merge_samples
from tests.conftest import problem_from_prompt
from tests.helpers import compose_config

REPHRASE = "Rephrase the above question:"


def reply(prompt, k, seed):
    """A distinct problem per synthesize request (its seed), a boxed answer per solve request."""
    if REPHRASE in prompt:  # the seed's numbers kept, and the request's seed: distinct per request
        return f"Rephrased problem: {problem_from_prompt(prompt)} (Asked in room {seed}.)"
    return f"We add. The answer is \\boxed{{{ANSWER[0]}}}."


ANSWER = ["7"]  # what every solution answers; a test changes it between runs


@pytest.fixture
def llm(scripted_backend):
    ANSWER[0] = "7"
    return scripted_backend(reply)


def run(*overrides, stage="mix"):
    # One dataset of 1,000 seeds, chunks of 100, every problem distinct (no decontamination: one built-in seed
    # copies a built-in test item): a chunk never ends past a target, so requests count problems.
    cfg = compose_config(["logger=none", f"stage={stage}", "agent=paraphrase", "seeds.builtin_count=1000", "agent.chunk_size=100",
                          "solve.num_samples=1", "qc.decontam.enabled=false", *overrides])
    return Pipeline(cfg).run()


def requests(llm, synthesize: bool) -> int:
    """Requests the backend received so far, of the synthesize stage (paraphrase prompts) or of the others."""
    return sum(1 for call in llm.calls for p in call if (REPHRASE in p) == synthesize)


def result(res, stage):
    return next(r for r in res.results if r.stage == stage)


def test_more_problems_grow_the_pool_fewer_read_its_view_and_what_was_built_stays_valid(llm, tmp_path):
    small = run("agent.num_problems=1000")
    assert requests(llm, True) == 1000
    pool = result(small, "synthesize").artifact
    first = list(read_jsonl(pool.data))
    small_keys = {r.stage: r.artifact.key for r in small.results}

    big = run("agent.num_problems=3000")
    assert requests(llm, True) == 3000  # exactly 2,000 new
    assert {r.stage: r.reused for r in big.results} == dict.fromkeys(small_keys, False)  # grown, or new (mix)
    grown = list(read_jsonl(pool.data))
    assert result(big, "synthesize").artifact == pool and len(grown) == 3000
    assert grown[:1000] == first  # record i is the same
    manifest = result(big, "synthesize").manifest
    assert manifest["asked"] == {"num_problems": 3000, "max_draws": 32} and manifest["records_out"] == 3000
    assert [(g["records_before"], g["records_after"]) for g in manifest["growths"]] == [(1000, 3000)]
    solved = requests(llm, False)
    assert solved == 3000  # every problem of the view solved once (one sample each)
    assert {r.stage: r.artifact.key for r in big.results if r.stage != "mix"} == \
        {s: k for s, k in small_keys.items() if s != "mix"}  # the same pools, grown
    assert store_main(["verify", str(pool.path.parent.parent)]) == 0  # re-sealed, and mix(1000) still checks out

    fewer = run("agent.num_problems=500")
    assert requests(llm, True) == 3000 and requests(llm, False) == solved  # no request at all
    assert [r.reused for r in fewer.results] == [True, True, True, True, False]  # mix(500) is new
    mixed = list(read_jsonl(result(fewer, "mix").artifact.data))
    assert len(mixed) == 500 and all(r["view_rank"] < 500 for r in mixed)

    again = run("agent.num_problems=1000")  # the smaller run's artifacts, built before the pools grew
    assert all(r.reused for r in again.results) and requests(llm, True) == 3000
    assert result(again, "mix").artifact.key == small_keys["mix"]


def test_two_then_four_samples_adds_two_per_problem_and_qc_decides_on_four(llm):
    two = run("agent.num_problems=6", "solve.num_samples=2", "qc=strict")
    solve = result(two, "solve").artifact
    before = {r["id"]: r["solutions"] for r in read_jsonl(solve.data)}
    assert len(before) == 6 and result(two, "solution_qc").manifest["records_out"] == 6  # 2 agreeing samples each
    calls = len(llm.calls)

    ANSWER[0] = "9"  # the new samples disagree with the first two
    four = run("agent.num_problems=6", "solve.num_samples=4", "qc=strict")
    new = llm.calls[calls:]
    assert [len(c) for c in new] == [6] and [s.n for s in llm.samplings[calls:]] == [2]  # 2 new samples per problem
    assert result(four, "solve").artifact == solve
    merged = {r["id"]: r["solutions"] for r in merge_samples(read_jsonl(solve.data))}
    assert {i: s[:2] for i, s in merged.items()} == before and all(len(s) == 4 for s in merged.values())
    qc = result(four, "solution_qc")
    assert qc.artifact.key != result(two, "solution_qc").artifact.key  # QC is keyed by the samples it reads
    assert qc.manifest["records_out"] == 0 and qc.manifest["dropped"] == {"disagreement": 6}
    dropped = list(read_jsonl(qc.artifact.path / "dropped.jsonl"))
    assert all(d["votes"] == {"7": 2, "9": 2} for d in dropped)  # the top-up's samples were voted on

    calls = len(llm.calls)
    back = run("agent.num_problems=6", "solve.num_samples=2", "qc=strict")  # QC over 2 samples is still there
    assert all(r.reused for r in back.results) and len(llm.calls) == calls


def test_a_larger_ask_the_pool_already_holds_grows_it_without_a_request_or_a_model(llm, monkeypatch):
    import flames.llm as llm_mod

    run("agent.num_problems=6", stage="synthesize")  # one chunk of 100 requests: 100 problems pass, 6 asked
    loaded, calls = [], len(llm.calls)
    monkeypatch.setattr(llm_mod, "load_llm", lambda cfg: loaded.append(cfg.name) or llm)
    res = run("agent.num_problems=50", stage="synthesize")
    assert not res.results[0].reused and res.results[0].manifest["asked"]["num_problems"] == 50  # now served
    assert len(llm.calls) == calls and loaded == []  # the 50 were there


# -- mixtures: FLAMES Small, then FLAMES Large, at a tiny scale -------------------------------------------------------

def agent_reply(prompt, k, seed):
    """A well-formed answer for each step of FLAMES Small's four agents, and for solve: distinct per request."""
    asked = prompt.rstrip().splitlines()[-1]
    if asked == "Suggestions:":
        return " 1. Ask for twice as many."
    if asked == "Key concepts:":
        return " addition; counting"
    if asked == "Irrelevant detail:":
        return f" The crate is number {seed} in the row."
    if asked in ("New problem:", "Follow-up question:", "Problem:"):
        return f" A crate holds {seed % 100003} apples and {seed % 7 + 2} more arrive. How many apples are there?"
    nums = re.findall(r"\d+", prompt.split("\n")[0])
    return f"We add. The answer is \\boxed{{{nums[0] if nums else 0}}}."


def logged_requests(artifacts) -> int:
    """Requests the artifacts' calls.jsonl files record (every backend call of a stage is logged in its artifact)."""
    return sum(c["requests"] for art in artifacts if (art.path / "calls.jsonl").exists()
               for c in read_jsonl(art.path / "calls.jsonl"))


def mixture(name, budget):
    cfg = compose_config(["logger=none", "stage=mix", f"mixture={name}", f"mixture.budget={budget}",
                          "+mixture.agent_overrides.chunk_size=4"])
    return Pipeline(cfg).run()


def test_flames_large_after_small_reuses_all_of_its_generation_and_contains_its_mixture(scripted_backend):
    llm = scripted_backend(agent_reply)
    small = mixture("flames_small", 30)  # 15 / 6 / 6 / 3 problems (the paper: 150K)
    small_calls = len(llm.calls)
    small_data = {(r.stage, r.label): r.artifact.data.read_bytes() for r in small.results if r.label}
    logged_before = logged_requests(r.artifact for r in small.results if r.label)
    small_mix = {r["id"] for r in read_jsonl(result(small, "mix").artifact.data)}
    assert result(small, "mix").manifest["metrics"]["taken"] == {
        "suggester_editor": 15, "iqc": 6, "taxonomy_key_concepts": 6, "distraction_insertion": 3}

    large = mixture("flames_large", 200)  # 100 / 40 / 40 / 20, the same shares (the paper: 1M)
    grown = {(r.stage, r.label): r.artifact for r in large.results if r.label}
    assert set(grown) == set(small_data)
    for where, art in grown.items():  # the same pools, each starting with what the small run made
        assert art.data.read_bytes().startswith(small_data[where]), where
    # The large run's requests are exactly what its pools' growths logged: no new artifact, nothing done twice.
    assert sum(len(c) for c in llm.calls[small_calls:]) == logged_requests(grown.values()) - logged_before > 0
    solved = [p.rsplit("\n", 1)[0] for c in llm.calls[small_calls:] for p in c if "\\boxed{}" in p]
    small_solved = {r["problem"] for (stage, _), data in small_data.items() if stage == "solve"
                    for r in map(json.loads, data.decode().splitlines())}
    assert solved and not small_solved & set(solved)  # no problem of the small run is solved again
    large_mix = {r["id"] for r in read_jsonl(result(large, "mix").artifact.data)}
    assert len(large_mix) == 200 and small_mix <= large_mix  # FLAMES Large contains FLAMES Small
    assert store_main(["verify", str(result(large, "mix").artifact.path.parent.parent)]) == 0

    calls = len(llm.calls)
    assert all(r.reused for r in mixture("flames_small", 30).results) and len(llm.calls) == calls


def test_views_are_nested_and_keep_each_share():
    from flames.views import ViewOrder

    order = ViewOrder(["gsm8k", "math", "other"], {"gsm8k": 0.5, "math": 0.3, "other": 0.2})
    previous = dict.fromkeys(order.shares, 0)
    for n in range(200):
        targets = order.targets(n)
        assert sum(targets.values()) == n and all(targets[d] >= previous[d] for d in targets)  # nested views
        assert all(abs(targets[d] - n * float(s)) < 1 for d, s in order.shares.items())  # each share, to a problem
        previous = targets
    ranks = sorted(order.position(d, k) for d in order.shares for k in range(100))
    assert ranks[:150] == list(range(150))  # one order: every place taken once
    assert in_view({"view_rank": 4}, 5) and not in_view({"view_rank": 5}, 5) and not in_view({}, 5)
