"""Few-Shot, the key-concept agents and Suggester-Editor on a scripted LLM: calls, prompts, parsing, provenance."""

from __future__ import annotations

import json
import re

import pytest

from flames.agents.key_concepts import GSM8K_TOPIC, parse_concepts
from flames.agents.taxonomy import leaf_paths, load_taxonomy, sample_paths
from tests.helpers import last_slot, make_agent, shipped_knobs

SEEDS = [
    {"id": "s1", "dataset": "gsm8k", "problem": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "7"},
    {"id": "s2", "dataset": "math", "type": "Algebra", "problem": "Find $x$ if $2x + 5 = 11$.", "answer": "3"},
]
UNFILLED = re.compile(r"\{(problem|topic|concepts|suggestions)\}")


def asked_for(prompt: str) -> str:
    """The label the model must continue: the prompt's last line."""
    return prompt.rstrip().splitlines()[-1].rstrip(":")


def steps(calls):
    return [(c["step"], c["requests"]) for c in calls]


def drops(out):
    return sorted((d["step"], d["id"], reason) for d, reason in out.drops)


# -- few_shot ------------------------------------------------------------------------------
def test_few_shot_one_call_with_exemplars_per_dataset(scripted):
    agent, llm, calls = make_agent("few_shot", scripted, lambda p, k: "Ana has 5 pears and buys 2 more. How many pears now?")
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("write", 2)] and len(llm.calls) == 1
    gsm_prompt, math_prompt = llm.calls[0]
    assert SEEDS[0]["problem"] in gsm_prompt and SEEDS[1]["problem"] in math_prompt
    assert "Change the story" in gsm_prompt and "different approach" in math_prompt  # OMI-2: a prompt per dataset
    assert not UNFILLED.search(gsm_prompt + math_prompt)
    assert gsm_prompt.rstrip().endswith("Write another problem inspired by this one:")
    first = out.problems[0]
    assert first["id"] == "few_shot-s1" and first["agent"] == "few_shot" and first["seed_ids"] == ["s1"]
    assert first["problem"] == "Ana has 5 pears and buys 2 more. How many pears now?"
    assert first["seed_dataset"] == "gsm8k" and first["intermediate"]["prompt"] == "gsm8k"
    assert out.problems[1]["intermediate"]["prompt"] == "math" and "raw" in first["intermediate"]


def test_few_shot_drops_malformed_replies_with_reasons(scripted):
    seeds = [dict(SEEDS[0], id=f"s{i}") for i in range(4)]
    replies = iter(["", "Tom has 7 apples. The answer is 7.", SEEDS[0]["problem"],
                    "Ken has 40 dollars. He buys three notebooks for 7 dollars each. How much money does he have left?"])
    agent, _, _ = make_agent("few_shot", scripted, lambda p, k: next(replies))
    out = agent.run_chunk(seeds)
    assert out.problems == []
    assert drops(out) == [("write", "few_shot-s0", "empty"), ("write", "few_shot-s1", "solved_instead"),
                          ("write", "few_shot-s2", "unchanged"), ("write", "few_shot-s3", "copied_example")]


# -- key_concepts ----------------------------------------------------------------------------
def concepts_then_problem(concepts="unit price; multiplication", problem="Pears cost 2 dollars. How much do 6 cost?"):
    def reply(prompt, k):
        return f" {concepts}" if asked_for(prompt) == "Key concepts" else f" {problem}"
    return reply


def test_key_concepts_quickstart_extracts_a_pool_then_one_problem_call_per_chunk(scripted, tmp_path):
    agent, llm, calls = make_agent("key_concepts", scripted, concepts_then_problem(), **shipped_knobs("key_concepts"))
    inputs = agent.prepare(SEEDS, tmp_path)
    assert steps(calls) == [("extract", 2)]  # the pool: one batched call over the seeds, in prepare
    assert [last_slot(p, "Problem") for p in llm.calls[0]] == [s["problem"] for s in SEEDS]
    assert llm.samplings[0].stop == ("\n",) and llm.samplings[0].max_new_tokens == 40  # the quickstart's cap
    assert len(inputs) == 2 * 16  # per seed dataset: inputs_per_problem (4) * num_problems (8) / 2 datasets
    out = agent.run_chunk(inputs[:2])
    assert steps(calls) == [("extract", 2), ("problem", 2)]
    assert [last_slot(p, "Kind") for p in llm.calls[1]] == [GSM8K_TOPIC, GSM8K_TOPIC]  # gsm8k's pool comes first
    assert sorted(last_slot(llm.calls[1][0], "Key concepts").split("; ")) == ["multiplication", "unit price"]
    assert not any(s["problem"] in p for s in SEEDS for p in llm.calls[1])  # the concepts only, never a seed
    assert not UNFILLED.search("".join(llm.calls[0] + llm.calls[1]))
    rec = out.problems[0]
    assert rec["id"] == "key_concepts-gsm8k-set000000" and rec["seed_ids"] == ["s1"] and rec["seed_dataset"] == "gsm8k"
    assert rec["problem"] == "Pears cost 2 dollars. How much do 6 cost?" and rec["seed_answer"] is None
    assert rec["intermediate"]["style"] == GSM8K_TOPIC
    assert sorted(rec["intermediate"]["concepts"]) == ["multiplication", "unit price"]
    assert {i["dataset"] for i in inputs} == {"gsm8k", "math"}


def test_key_concepts_drops_at_each_step_and_only_survivors_go_on(scripted, tmp_path):
    def reply(prompt, k):
        if asked_for(prompt) == "Key concepts":
            return "" if "Tom" in last_slot(prompt, "Problem") else " linear equations"
        return " So x = 3 and the answer is 3."

    agent, llm, calls = make_agent("key_concepts", scripted, reply, num_problems=1, inputs_per_problem=2)
    inputs = agent.prepare(SEEDS, tmp_path)
    assert [i["dataset"] for i in inputs] == ["math", "math"]  # the gsm8k seed gave no concept: no gsm8k pool
    out = agent.run_chunk(inputs)
    assert steps(calls) == [("extract", 2), ("problem", 2)]
    assert drops(out) == [("extract", "key_concepts-s1", "no_concepts"),  # handed out with the first chunk
                          ("problem", "key_concepts-math-set000000", "solved_instead"),
                          ("problem", "key_concepts-math-set000001", "solved_instead")]
    assert out.problems == [] and agent.run_chunk([]).drops == []  # the extract drops are counted once


def test_key_concepts_problem_that_repeats_an_exemplar_is_dropped(scripted, tmp_path):
    copied = ("Pens cost 3 dollars each, and the shop takes 10 percent off an order of 10 pens or more. Sam buys "
              "10 pens and pays with a 50-dollar bill. How much change does he get?")
    agent, _, _ = make_agent("key_concepts", scripted, concepts_then_problem(problem=copied), num_problems=1)
    out = agent.run_chunk(agent.prepare(SEEDS[:1], tmp_path)[:1])
    assert [r for _, r in out.drops] == ["copied_example"]


def test_parse_concepts_splits_dedupes_and_caps():
    assert parse_concepts(" ratios; Ratios; unit rates, percent of a number; x; fractions\nTopic: y", 3) == (
        ["ratios", "unit rates", "percent of a number"], None)
    assert parse_concepts("   ", 4) == (None, "no_concepts")
    assert parse_concepts("so the answer is 12", 4) == (None, "solved_instead")


# -- seeded_key_concepts ----------------------------------------------------------------------
def test_seeded_key_concepts_extracts_from_the_seed_then_writes_without_it(scripted):
    agent, llm, calls = make_agent("seeded_key_concepts", scripted, concepts_then_problem("addition; counting"))
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("extract", 2), ("problem", 2)]
    extract_prompts, problem_prompts = llm.calls
    assert [last_slot(p, "Problem") for p in extract_prompts] == [s["problem"] for s in SEEDS]
    assert not any(s["problem"] in p for s, p in zip(SEEDS, problem_prompts))  # only the concepts go on
    assert last_slot(problem_prompts[0], "Key concepts") == "addition; counting"
    assert not UNFILLED.search("".join(extract_prompts + problem_prompts))
    rec = out.problems[0]
    assert rec["id"] == "seeded_key_concepts-s1" and rec["seed_ids"] == ["s1"]
    assert rec["intermediate"] == {"concepts": ["addition", "counting"]}


def test_seeded_key_concepts_extract_drop_is_counted_at_its_step(scripted):
    def reply(prompt, k):
        if asked_for(prompt) == "Key concepts":
            return " \\boxed{7}" if "Tom" in prompt.splitlines()[-2] else " solving linear equations"
        return " A number doubled plus 5 is 17. What is the number?"

    agent, llm, calls = make_agent("seeded_key_concepts", scripted, reply)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("extract", 2), ("problem", 1)]
    assert drops(out) == [("extract", "seeded_key_concepts-s1", "solved_instead")]
    assert [p["id"] for p in out.problems] == ["seeded_key_concepts-s2"]


# -- taxonomy_key_concepts ----------------------------------------------------------------------
def test_taxonomy_prepare_samples_topic_inputs_deterministically(scripted, tmp_path):
    agent, _, _ = make_agent("taxonomy_key_concepts", scripted, concepts_then_problem(), num_problems=3, seed=7,
                             taxonomy="builtin")
    inputs = agent.prepare(SEEDS, tmp_path)
    assert len(inputs) == 12  # max(len(seeds), inputs_per_problem (4) * num_problems)
    assert inputs == agent.prepare(SEEDS, tmp_path)  # a function of the config
    assert len({i["id"] for i in inputs}) == 12 and inputs[0]["id"] == "topic000000"
    assert all(i["seed_ids"] == [] and i["dataset"] is None for i in inputs)
    builtin = leaf_paths(load_taxonomy("builtin"))
    assert all(i["taxonomy_path"] in builtin for i in inputs)
    other, _, _ = make_agent("taxonomy_key_concepts", scripted, concepts_then_problem(), num_problems=3, seed=8,
                             taxonomy="builtin")
    assert [i["taxonomy_path"] for i in other.prepare(SEEDS, tmp_path)] != [i["taxonomy_path"] for i in inputs]
    many = [dict(SEEDS[0], id=str(i)) for i in range(100)]
    assert len(agent.prepare(many, tmp_path)) == 100


def test_taxonomy_key_concepts_runs_from_topics_with_provenance(scripted, tmp_path):
    agent, llm, calls = make_agent("taxonomy_key_concepts", scripted, concepts_then_problem(), num_problems=1,
                                   taxonomy="builtin")
    inputs = agent.prepare([], tmp_path)[:2]
    out = agent.run_chunk(inputs)
    assert steps(calls) == [("concepts", 2), ("problem", 2)]
    topic = " > ".join(inputs[0]["taxonomy_path"])
    assert last_slot(llm.calls[0][0], "Topic") == topic and last_slot(llm.calls[1][0], "Topic") == topic
    assert not UNFILLED.search("".join(llm.calls[0] + llm.calls[1]))
    rec = out.problems[0]
    assert rec["id"] == "taxonomy_key_concepts-topic000000" and rec["seed_ids"] == []
    assert rec["taxonomy_path"] == inputs[0]["taxonomy_path"] and rec["seed_dataset"] is None
    assert rec["intermediate"] == {"topic": topic, "concepts": ["unit price", "multiplication"]}


def test_taxonomy_user_file_nested_objects_and_lists(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"topics": {"Algebra": ["Lines", {"label": "Quadratics", "children": ["Vieta"]}],
                                           "Geometry": {}}}))
    assert sorted(leaf_paths(load_taxonomy(str(path)))) == [["Algebra", "Lines"], ["Algebra", "Quadratics", "Vieta"],
                                                            ["Geometry"]]
    assert sample_paths(load_taxonomy(str(path)), 5, 0) == sample_paths(load_taxonomy(str(path)), 5, 0)


def test_taxonomy_missing_files_say_what_to_set(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="taxonomy file not found"):
        load_taxonomy(str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="MSC2020 tree not found.*FLAMES_DATA_DIR"):
        load_taxonomy("msc2020", str(tmp_path))
    monkeypatch.delenv("FLAMES_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match="FLAMES_DATA_DIR"):
        load_taxonomy("ccssm")


def test_taxonomy_real_formats_from_small_copies(tmp_path):
    (tmp_path / "ccssm").mkdir()
    (tmp_path / "ccssm" / "ccssm_standards.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"id": "6.RP.A.3", "grade": "6", "category_name": None, "domain_name": "Ratios", "description": "Use ratios."},
        {"id": "HSA.REI.A.1", "grade": "HS", "category_name": "Algebra", "domain_name": "Equations",
         "description": "Explain each step."}]))
    assert sorted(leaf_paths(load_taxonomy("ccssm", str(tmp_path)))) == [
        ["Grade 6", "Ratios", "Use ratios."], ["High school Algebra", "Equations", "Explain each step."]]
    (tmp_path / "msc2020").mkdir()
    tree = [{"code": "00-XX", "label": "General", "children": [{"code": "00A05", "label": "Math", "children": []}]},
            {"code": "11-XX", "label": "Number theory", "children": [
                {"code": "11-01", "label": "Introductory exposition", "children": []},
                {"code": "11Axx", "label": "Elementary number theory", "children": [
                    {"code": "11A05", "label": "Multiplicative structure (should also be assigned 11-XX)",
                     "children": []},
                    {"code": "11A99", "label": "None of the above, but in this section", "children": []}]}]}]
    (tmp_path / "msc2020" / "msc2020_tree.json").write_text(json.dumps(tree))
    assert leaf_paths(load_taxonomy("msc2020", str(tmp_path))) == [
        ["Number theory", "Elementary number theory", "Multiplicative structure"]]
    combined = leaf_paths(load_taxonomy("ccssm+msc2020", str(tmp_path)))  # each under its own root
    assert sorted(combined) == sorted([["School mathematics (Common Core)", "Grade 6", "Ratios", "Use ratios."],
                                       ["School mathematics (Common Core)", "High school Algebra", "Equations",
                                        "Explain each step."],
                                       ["Mathematics Subject Classification", "Number theory",
                                        "Elementary number theory", "Multiplicative structure"]])


def test_taxonomy_real_files_load(flames_data):
    for name, at_least in (("ccssm", 400), ("msc2020", 4000)):
        paths = leaf_paths(load_taxonomy(name, str(flames_data / "taxonomy")))
        assert len(paths) >= at_least and all(len(p) >= 2 for p in paths)


def test_the_papers_taxonomy_combines_common_core_and_msc2020_half_each(flames_data):
    """experiment=paper samples from CCSSM + MSC2020 (our reading of the paper's unnamed combination), never from
    the built-in list."""
    from flames.agents.taxonomy import sample_paths

    from tests.helpers import compose_config

    name = compose_config(["experiment=paper", "agent=taxonomy_key_concepts", "logger=none"]).agent.taxonomy
    assert name == "ccssm+msc2020"
    tree = load_taxonomy(name, str(flames_data / "taxonomy"))
    assert set(tree) == {"School mathematics (Common Core)", "Mathematics Subject Classification"}
    roots = [path[0] for path in sample_paths(tree, 2000, seed=0)]
    assert 0.45 < roots.count("Mathematics Subject Classification") / len(roots) < 0.55
    builtin = {tuple(p) for p in leaf_paths(load_taxonomy("builtin"))}
    assert not builtin & {tuple(p[1:]) for p in leaf_paths(tree)}


# -- suggester_editor ---------------------------------------------------------------------------
def suggest_then_edit(prompt, k):
    if asked_for(prompt) == "Suggestions":
        return " 1. Add a second step."
    return f" {last_slot(prompt, 'Problem').rstrip('?.')} and then twice as many. What is the result?"


def test_suggester_editor_two_rounds_is_four_batched_calls(scripted):
    agent, llm, calls = make_agent("suggester_editor", scripted, suggest_then_edit)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("suggest", 2), ("edit", 2), ("suggest", 2), ("edit", 2)]
    suggest1, edit1, suggest2, edit2 = llm.calls
    assert last_slot(suggest1[0], "Problem") == SEEDS[0]["problem"]
    assert last_slot(edit1[0], "Suggestions") == "1. Add a second step." and last_slot(edit1[0], "Problem") == SEEDS[0]["problem"]
    round1 = SEEDS[0]["problem"].rstrip("?.") + " and then twice as many. What is the result?"
    assert last_slot(suggest2[0], "Problem") == round1  # round 2 works on round 1's problem
    assert not UNFILLED.search("".join(suggest1 + edit1 + suggest2 + edit2))
    rec = out.problems[0]
    assert rec["id"] == "suggester_editor-s1" and rec["seed_ids"] == ["s1"]
    rounds = rec["intermediate"]["rounds"]
    assert [r["suggestions"] for r in rounds] == [["1. Add a second step."]] * 2
    assert rounds[0]["problem"] == round1 and rounds[1]["problem"] == rec["problem"] != round1


def test_suggester_editor_rounds_knob(scripted):
    agent, _, calls = make_agent("suggester_editor", scripted, suggest_then_edit, rounds=1)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("suggest", 2), ("edit", 2)] and len(out.problems[0]["intermediate"]["rounds"]) == 1


def test_suggester_editor_drops_at_each_step_and_round(scripted):
    seeds = [dict(SEEDS[0], id=f"s{i}", problem=f"Box {i} has 3 eggs. How many eggs in 2 boxes?") for i in range(4)]

    def reply(prompt, k):
        box = last_slot(prompt, "Problem").split()[1]
        if asked_for(prompt) == "Suggestions":
            return " So the answer is 6." if box == "0" else " 1. Add a box."
        if box == "1":
            return " " + last_slot(prompt, "Problem")  # the Editor changed nothing
        if box == "2":
            return " Box 2 has 3 eggs. " + "Add more. " * 200 + "How many?"  # over Orca-Math's 1,800 chars
        if "round two" in prompt:
            return " x"  # too short in round 2
        return " Box 3 has 3 eggs and 4 more, in round two. How many eggs in 2 boxes?"

    agent, _, calls = make_agent("suggester_editor", scripted, reply)
    out = agent.run_chunk(seeds)
    assert steps(calls) == [("suggest", 4), ("edit", 3), ("suggest", 1), ("edit", 1)]
    assert drops(out) == [("edit", "suggester_editor-s1", "unchanged"), ("edit", "suggester_editor-s2", "too_long"),
                          ("edit", "suggester_editor-s3", "too_short"),
                          ("suggest", "suggester_editor-s0", "solved_instead")]
    assert out.problems == []
