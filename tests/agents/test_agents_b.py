"""IQC, Ask Me Anything, Self-Verification and FOBAR on a scripted LLM: calls, prompts, parsing, provenance."""

from __future__ import annotations

import re

from flames.agents.base import clean_problem
from flames.agents.masking import number_tokens, pick_variable
from flames.agents.iqc import prompt_solution
from flames.agents.self_verification import split_question
from tests.helpers import last_slot, make_agent, shipped_knobs

SEEDS = [
    {"id": "s1", "dataset": "gsm8k", "problem": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "7", "solution": "Tom has 3+4=<<3+4=7>>7 apples.\n#### 7"},
    {"id": "s2", "dataset": "math", "problem": "Find $x$ if $2x + 5 = 11$.", "answer": "3",
     "solution": "Subtract 5: $2x = 6$, so $x = \\boxed{3}$."},
]
NO_NUMBER = {"id": "s3", "dataset": "gsm8k", "problem": "Ann has some pears. How many pears does she have?",
             "answer": "5"}
NO_ANSWER = {"id": "s4", "dataset": "gsm8k", "problem": "Bo has 2 cats and 5 dogs. How many pets does he have?"}
UNFILLED = re.compile(r"\{(problem|solution|question|answer|statement|variable)\}")
FOBAR_TAIL = "If we know the answer to the above question is {}, what is the value of unknown variable {}?"


def steps(calls):
    return [(c["step"], c["requests"]) for c in calls]


def drops(out):
    return sorted((d["step"], d["id"], reason) for d, reason in out.drops)


def well_formed(out):
    return all(clean_problem(p["problem"])[1] is None for p in out.problems)


# -- shared number helpers ----------------------------------------------------------------------
def test_number_tokens_mask_plain_numbers_only():
    text = "A 40-item test costs $85, or 20% of 40,000 points; $2x^2 + 3/4$ and (7, -24) stay. Sum $11$."
    assert [t.text for t in number_tokens(text)] == ["85", "20", "40,000", "11"]
    assert [t.value for t in number_tokens(text)][2] == "40000"


def test_variable_is_x_for_gsm8k_and_X_for_math_unless_taken():
    assert pick_variable("Tom has 3 apples.", "gsm8k") == "x"
    assert pick_variable("Find $x$ if $2x = 6$.", "math") == "X"
    assert pick_variable("Find $x$ if $2x = 6$.", "gsm8k") == "X"  # x is taken: the other one
    assert pick_variable("Let $X = 2x$.", "math") is None
    assert pick_variable("Compute $\\max(3, 4) \\times 2$.", "math") == "X"  # \max, \times are not x


def test_split_question_keeps_a_trailing_format_note_with_the_question():
    assert split_question(SEEDS[0]["problem"]) == ("Tom has 3 apples and buys 4 more.", "How many apples does he have?")
    assert split_question("Let $a = 1.$  What is $a + 1$? Express your answer as a fraction.") == \
        ("Let $a = 1.$", "What is $a + 1$? Express your answer as a fraction.")
    assert split_question("Find $x$ if $2x + 5 = 11$.") == ("", "Find $x$ if $2x + 5 = 11$.")


# -- fobar ------------------------------------------------------------------------------------------
def test_fobar_makes_no_llm_call_and_appends_the_metamath_template(scripted):
    agent, llm, calls = make_agent("fobar", scripted, lambda p, k: "unused")
    out = agent.run_chunk(SEEDS)
    assert llm.calls == [] and calls == [] and not agent.uses_llm  # rule-based: nothing sent, nothing logged
    gsm, math = out.problems
    masked = gsm["intermediate"]["masked_number"]
    assert gsm["problem"].endswith("\n" + FOBAR_TAIL.format("7", "x"))
    assert gsm["problem"].split("\n")[0] == SEEDS[0]["problem"].replace(masked, "x", 1)
    assert gsm["intermediate"]["expected_answer"] == masked and masked in {"3", "4"}
    assert math["problem"].endswith(FOBAR_TAIL.format("3", "X"))  # MATH writes the unknown as X
    assert math["intermediate"]["variable"] == "X" and math["intermediate"]["expected_answer"] in {"5", "11"}
    assert gsm["id"] == "fobar-s1" and gsm["agent"] == "fobar" and gsm["seed_ids"] == ["s1"]
    assert gsm["seed_answer"] == "7" and well_formed(out)  # "answer to the above question is" passes the cleaner


def test_fobar_choice_is_deterministic_and_follows_the_config_seed(scripted):
    seed = {"id": "s9", "dataset": "gsm8k", "answer": "1",
            "problem": "A has 2 red, 3 blue, 5 green, 7 pink and 11 gray balls. How many balls are there?"}
    picks = {}
    for config_seed in range(8):
        agent, _, _ = make_agent("fobar", scripted, lambda p, k: "", seed=config_seed)
        first, again = agent.run_chunk([seed]), agent.run_chunk([seed])
        assert first.problems == again.problems
        picks[config_seed] = first.problems[0]["intermediate"]["masked_number"]
    assert len(set(picks.values())) > 1


def test_fobar_drops_seeds_without_number_answer_or_free_variable(scripted):
    clash = {"id": "s5", "dataset": "math", "problem": "If $x = 2X$ and $X = 3$, find $x$.", "answer": "6"}
    agent, _, _ = make_agent("fobar", scripted, lambda p, k: "")
    out = agent.run_chunk([NO_NUMBER, NO_ANSWER, clash])
    assert out.problems == []
    assert drops(out) == [("mask", "fobar-s3", "no_number"), ("mask", "fobar-s4", "no_answer"),
                          ("mask", "fobar-s5", "variable_clash")]


# -- self_verification ------------------------------------------------------------------------------
def sv_reply(prompt, k):
    question = last_slot(prompt, "Question")
    return {"How many apples does he have?": "He has 7 apples.",
            "Find $x$ if $2x + X = 11$.": "If $2x + X = 11$, then $x$ is 3.",
            "Find $x$ if $2x + 5 = X$.": "If $2x + 5 = X$, then $x$ is 3."}[question]


def test_self_verification_one_call_masks_then_states_the_answer(scripted):
    agent, llm, calls = make_agent("self_verification", scripted, sv_reply)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("declare", 2)] and len(llm.calls) == 1
    gsm_prompt, math_prompt = llm.calls[0]
    assert last_slot(gsm_prompt, "Question") == "How many apples does he have?" and last_slot(gsm_prompt, "Answer") == "7"
    assert last_slot(math_prompt, "Answer") == "3" and "$2x + " in last_slot(math_prompt, "Question")
    assert gsm_prompt.rstrip().endswith("Statement:") and not UNFILLED.search(gsm_prompt + math_prompt)
    gsm, math = out.problems
    n = gsm["intermediate"]["masked_number"]
    body = SEEDS[0]["problem"].split(" How")[0].replace(n, "x", 1)
    assert gsm["problem"] == f"{body} He has 7 apples. What is the value of unknown variable x?"
    assert gsm["intermediate"]["expected_answer"] == n and gsm["intermediate"]["statement"] == "He has 7 apples."
    assert gsm["intermediate"]["masked_question"].startswith(body) and gsm["intermediate"]["raw"] == "He has 7 apples."
    assert math["problem"].endswith("then $x$ is 3. What is the value of unknown variable X?")
    assert gsm["id"] == "self_verification-s1" and gsm["seed_ids"] == ["s1"] and well_formed(out)


def test_self_verification_drops_unparsable_statements_at_declare(scripted):
    replies = iter(["", "How many apples?", "He has many apples.", "He has 7 apples. The answer is 7.",
                    "He has 7 apples in 2 bags.", "He has 7 apples\nQuestion: How many pears?"])
    seeds = [dict(SEEDS[0], id=f"g{i}") for i in range(6)]
    agent, _, calls = make_agent("self_verification", scripted, lambda p, k: next(replies))
    out = agent.run_chunk(seeds)
    assert steps(calls) == [("declare", 6)]
    assert drops(out) == [("declare", "self_verification-g0", "empty"),
                          ("declare", "self_verification-g1", "still_a_question"),
                          ("declare", "self_verification-g2", "missing_answer"),
                          ("declare", "self_verification-g3", "solved_instead"),
                          ("declare", "self_verification-g4", "extra_numbers")]
    (kept,) = out.problems  # only the first line counts; a missing period is added before the question
    assert kept["intermediate"]["statement"] == "He has 7 apples." and kept["id"] == "self_verification-g5"


def test_self_verification_keeps_the_unknown_when_it_is_in_the_question_sentence(scripted):
    seed = {"id": "c1", "dataset": "gsm8k", "answer": "12",
            "problem": "A third of the singers are female. If there are 18 singers, how many are male?"}
    agent, llm, _ = make_agent("self_verification", scripted, lambda p, k: "12 are male.")
    out = agent.run_chunk([seed])
    assert last_slot(llm.calls[0][0], "Question") == "If there are x singers, how many are male?"
    assert drops(out) == [("declare", "self_verification-c1", "lost_variable")]
    agent, _, _ = make_agent("self_verification", scripted, lambda p, k: "If there are x singers, 12 are male.")
    (prob,) = agent.run_chunk([seed]).problems
    assert prob["intermediate"]["expected_answer"] == "18" and "there are x singers, 12 are male." in prob["problem"]


def test_self_verification_drops_before_the_call_what_it_cannot_mask(scripted):
    agent, llm, calls = make_agent("self_verification", scripted, sv_reply)
    out = agent.run_chunk([NO_NUMBER, SEEDS[0], NO_ANSWER])
    assert steps(calls) == [("declare", 1)] and len(out.problems) == 1  # only the usable seed is sent
    assert drops(out) == [("mask", "self_verification-s3", "no_number"), ("mask", "self_verification-s4", "no_answer")]


# -- ask_me_anything -----------------------------------------------------------------------------
def ama_reply(prompt, k):
    return {"How many apples does he have?": "He has 7 apples.",
            "Find $x$ if $2x + 5 = 11$.": "If $2x + 5 = 11$, then $x$ is 3."}[last_slot(prompt, "Question")]


AMA_QUICKSTART = shipped_knobs("ask_me_anything")  # ask: template (no call per number)
IQC_QUICKSTART = shipped_knobs("iqc")  # one follow-up iteration, no filter


def test_ask_me_anything_quickstart_one_call_then_a_template_problem_per_number(scripted):
    assert AMA_QUICKSTART["ask"] == "template"
    agent, llm, calls = make_agent("ask_me_anything", scripted, ama_reply, **AMA_QUICKSTART)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("statement", 2)] and len(llm.calls) == 1  # asking is rule-based
    prompt = llm.calls[0][0]
    assert last_slot(prompt, "Question") == "How many apples does he have?" and last_slot(prompt, "Answer") == "7"
    assert prompt.rstrip().endswith("Statement:") and not UNFILLED.search(prompt + llm.calls[0][1])
    by_id = {p["id"]: p for p in out.problems}
    assert sorted(by_id) == ["ask_me_anything-s1-n1", "ask_me_anything-s1-n2",
                             "ask_me_anything-s2-n1", "ask_me_anything-s2-n2"]
    first = by_id["ask_me_anything-s1-n1"]
    assert first["problem"] == "Tom has x apples and buys 4 more. He has 7 apples. What is the value of x?"
    assert by_id["ask_me_anything-s1-n2"]["problem"].startswith("Tom has 3 apples and buys x more. He has 7")
    assert first["intermediate"]["statement"] == "Tom has 3 apples and buys 4 more. He has 7 apples."
    assert first["intermediate"]["hidden_number"] == "3" and first["intermediate"]["expected_answer"] == "3"
    assert by_id["ask_me_anything-s2-n2"]["problem"] == \
        "If $2x + 5 = X$, then $x$ is 3. What is the value of X?"  # the answer (3) is never hidden
    assert first["seed_ids"] == ["s1"] and first["agent"] == "ask_me_anything" and well_formed(out)


def test_ask_me_anything_max_questions_caps_problems_per_seed(scripted):
    agent, _, _ = make_agent("ask_me_anything", scripted, ama_reply, **{**AMA_QUICKSTART, "max_questions": 1})
    out = agent.run_chunk(SEEDS)
    assert [p["id"] for p in out.problems] == ["ask_me_anything-s1-n1", "ask_me_anything-s2-n1"]


def test_ask_me_anything_drops_at_the_right_step(scripted):
    only_answer = {"id": "s6", "dataset": "gsm8k", "problem": "Tom has 7 pens. How many pens does he have?",
                   "answer": "7"}
    replies = {"How many apples does he have?": "He has many apples.",  # s1
               "Find $x$ if $2x + 5 = 11$.": "The value of $x$ is 3.",  # s2
               "How many pens does he have?": "He has 7 pens."}  # s6
    agent, _, calls = make_agent("ask_me_anything", scripted, lambda p, k: replies[last_slot(p, "Question")],
                                 **AMA_QUICKSTART)
    out = agent.run_chunk([NO_ANSWER, SEEDS[0], SEEDS[1], NO_NUMBER, only_answer])
    assert steps(calls) == [("statement", 3)] and out.problems == []
    assert drops(out) == [("hide", "ask_me_anything-s6", "no_number"),  # only the answer's number: nothing to ask
                          ("input", "ask_me_anything-s3", "no_number"), ("input", "ask_me_anything-s4", "no_answer"),
                          ("statement", "ask_me_anything-s1", "missing_answer"),
                          ("statement", "ask_me_anything-s2", "lost_numbers")]  # the equation went missing


# -- iqc ------------------------------------------------------------------------------------------
def follow_up(prompt, k):
    question, solution = last_slot(prompt, "Question"), last_slot(prompt, "Solution")
    if "$" in question:
        return "Then compute the value of $x^2 + 1$." if solution != "Not given." else "Then compute twice this value."
    return "He eats 2 of them. How many are left?" if solution != "Not given." else "He gives 1 away. How many remain?"


def test_iqc_follow_up_one_call_per_iteration_each_on_the_previous_question(scripted):
    agent, llm, calls = make_agent("iqc", scripted, follow_up, **{**IQC_QUICKSTART, "iterations": 2})
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("compose1", 2), ("compose2", 2)] and len(llm.calls) == 2
    first_prompt, second_prompt = llm.calls[0][0], llm.calls[1][0]
    assert last_slot(first_prompt, "Question") == SEEDS[0]["problem"]
    assert last_slot(first_prompt, "Solution") == "Tom has 3+4=7 apples. So the result is 7."  # GSM8K markup removed
    assert first_prompt.rstrip().endswith("Follow-up question:") and not UNFILLED.search(first_prompt + llm.calls[0][1])
    by_id = {p["id"]: p for p in out.problems}  # every iteration's question is a problem (MMIQC's D_1..D_K)
    assert sorted(by_id) == ["iqc-s1-i1", "iqc-s1-i2", "iqc-s2-i1", "iqc-s2-i2"]
    q1, q2 = by_id["iqc-s1-i1"]["problem"], by_id["iqc-s1-i2"]["problem"]
    assert q1 == "Tom has 3 apples and buys 4 more. He eats 2 of them. How many are left?"  # the seed's ask replaced
    assert last_slot(second_prompt, "Question") == q1 and last_slot(second_prompt, "Solution") == "Not given."
    assert q2 == "Tom has 3 apples and buys 4 more. He eats 2 of them. He gives 1 away. How many remain?"
    assert by_id["iqc-s1-i2"]["intermediate"]["previous"] == q1 and by_id["iqc-s1-i2"]["intermediate"]["iteration"] == 2
    assert [by_id[f"iqc-s1-i{k}"]["intermediate"]["follow_up"] for k in (1, 2)] == [
        "He eats 2 of them. How many are left?", "He gives 1 away. How many remain?"]
    assert by_id["iqc-s2-i1"]["problem"] == "Find $x$ if $2x + 5 = 11$. Then compute the value of $x^2 + 1$."
    gsm = by_id["iqc-s1-i1"]
    assert gsm["seed_ids"] == ["s1"] and gsm["agent"] == "iqc" and well_formed(out)


def test_iqc_quickstart_is_one_follow_up_iteration_and_takes_a_full_restatement_as_is(scripted):
    full = "Tom has 3 apples and buys 4 more, then eats 2 of them. How many apples are left?"
    agent, llm, calls = make_agent("iqc", scripted, lambda p, k: full, **IQC_QUICKSTART)
    out = agent.run_chunk(SEEDS[:1])
    assert steps(calls) == [("compose1", 1)] and out.problems[0]["problem"] == full  # no verify step
    assert llm.calls[0][0].rstrip().endswith("Follow-up question:") and llm.samplings[0].stop == ("\n",)
    assert out.problems[0]["id"] == "iqc-s1-i1"


def test_iqc_drops_at_the_failing_iteration_and_stops_sending_it(scripted):
    example = "She gives 5 pens to each of her 3 friends. How many pens does she have left?"
    first = iter(["Tom has 7 apples in all. The answer is 7.", example,
                  "He eats 2 of them. How many are left if he then", "How many apples does he have?",
                  "So he has 9 apples, which we find by adding 2.", "He eats 2 of them. How many are left?"])

    def reply(prompt, k):
        return next(first) if last_slot(prompt, "Solution") != "Not given." else ""

    seeds = [dict(SEEDS[0], id=f"g{i}") for i in range(6)]
    agent, _, calls = make_agent("iqc", scripted, reply, **{**IQC_QUICKSTART, "iterations": 2})
    out = agent.run_chunk(seeds)
    assert steps(calls) == [("compose1", 6), ("compose2", 1)]  # only the survivor goes on
    assert [p["id"] for p in out.problems] == ["iqc-g5-i1"]  # its first iteration stays a problem
    assert drops(out) == [("compose1", "iqc-g0", "solved_instead"), ("compose1", "iqc-g1", "copied_example"),
                          ("compose1", "iqc-g2", "truncated"), ("compose1", "iqc-g3", "unchanged"),
                          ("compose1", "iqc-g4", "no_new_question"),  # it went on solving
                          ("compose2", "iqc-g5", "empty")]


def test_iqc_prompt_solution_is_cut_and_tolerates_missing():
    assert prompt_solution(None, 100) == "Not given." and prompt_solution("  ", 100) == "Not given."
    cut = prompt_solution("word " * 100, 30)
    assert len(cut) <= 34 and cut.endswith(" ...")
