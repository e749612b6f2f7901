"""Random and adversarial input: nothing may hang, raise or take unbounded time."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flames.grading import MODES, answer_key, clean_answer, extract_answer, grade_batch
from flames.grading.equivalence import plan_pair

METHODS = {"string", "math_verify", "symbolic", "timeout", "no_answer", "error"}

LATEX_TOKENS = [
    "\\frac", "\\dfrac", "\\sqrt", "\\boxed", "\\fbox", "\\text", "\\mathrm", "\\left", "\\right",
    "\\pi", "\\infty", "\\cup", "\\circ", "\\%", "\\$", "\\!", "\\,", "\\\\", "\\{", "\\}",
    "\\begin{pmatrix}", "\\end{pmatrix}", "\\pm", "\\cdot", "\\times", "####", "The answer is",
    "Final Answer:", "{", "}", "(", ")", "[", "]", "^", "_", ",", ".", "$", "=", "-", "+", "/",
    " ", "\n", "x", "e", "i", "a.m.", "cm", "%", "\u00b0", "\u2212",
]
latex_soup = st.lists(
    st.one_of(st.sampled_from(LATEX_TOKENS), st.integers(-10**6, 10**6).map(str), st.text(max_size=3)),
    max_size=60,
).map("".join)


def nested_frac(depth: int) -> str:
    return "\\frac{" * depth + "1" + "}{2}" * depth


def power_tower(height: int) -> str:
    return "9^{" * height + "9" + "}" * height


ADVERSARIAL = [
    nested_frac(200),
    nested_frac(2000),
    power_tower(4),  # 9^{9^{9^{9^9}}}
    "9^{9^{9^9}}",
    "2^{100000}",
    "10^{10^{10}}",
    "\\boxed{" * 5000,
    "}" * 5000 + "\\boxed{1",
    "{" * 3000 + "1" + "}" * 2999,
    "\\text{" * 2000 + "cm",
    "1,000," * 20000,
    "\\sqrt{" * 1000 + "2" + "}" * 1000,
    "x" * 200_000,
    "The answer is " * 10_000,
    "\\begin{pmatrix}" + " & ".join(["1"] * 400) + "\\end{pmatrix}",
    "\\left(" * 500 + "1" + "\\right)" * 500,
    "0." + "3" * 5000,
    "1" * 5000,
    "\\frac{1}{0}",
    "\\sum_{n=1}^{\\infty} n",
    "\\int_0^\\infty e^{-x^2} dx",
    "$" * 999,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(latex_soup)
def test_extraction_and_keys_never_raise(text):
    for mode in MODES:
        answer = extract_answer(text, mode=mode)
        assert answer is None or isinstance(answer, str)
        plan_pair(text, "1", mode=mode)  # the fast path reads boxes and answer sentences too
    key = answer_key(text)
    assert key is None or isinstance(key, str)
    cleaned = clean_answer(text)
    assert clean_answer(cleaned) == cleaned  # idempotent: extracted answers get cleaned again


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_extraction_on_arbitrary_unicode(text):
    for mode in MODES:
        extract_answer(text, mode=mode)
        plan_pair(text, text or "1", mode=mode)
    answer_key(text)


@pytest.mark.parametrize("mode", MODES)
def test_adversarial_strings_are_handled_quickly_in_pure_python(mode):
    for s in ADVERSARIAL:
        started = time.monotonic()
        extract_answer(s, mode=mode)
        extract_answer("Thus \\boxed{" + s + "}", mode=mode)
        answer_key(s)
        plan_pair(s, "1", mode=mode)
        plan_pair("The answer is " + s, "\\boxed{" + s + "}", mode=mode)
        assert time.monotonic() - started < 10.0, s[:60]  # catastrophic backtracking takes far longer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(latex_soup, latex_soup), min_size=1, max_size=4), st.sampled_from(MODES))
def test_grade_batch_survives_random_pairs(pairs, mode):
    preds = [extract_answer(p, mode=mode) for p, _ in pairs]
    golds = [g or "0" for _, g in pairs]
    started = time.monotonic()
    verdicts = grade_batch(preds, golds, timeout=0.5, workers=2, mode=mode)
    assert len(verdicts) == len(pairs)
    assert all(v.method in METHODS for v in verdicts)
    assert time.monotonic() - started < 90  # loose: start-up on a loaded machine


@pytest.mark.parametrize("mode", MODES)
def test_grade_batch_survives_adversarial_pairs(mode):
    preds = ADVERSARIAL + ["1"] * len(ADVERSARIAL)
    golds = ["1"] * len(ADVERSARIAL) + ADVERSARIAL
    timeout, workers = 0.5, 2
    started = time.monotonic()
    verdicts = grade_batch(preds, golds, timeout=timeout, workers=workers, mode=mode)
    elapsed = time.monotonic() - started
    assert len(verdicts) == len(preds)
    if mode == "flames":
        assert not any(v.equivalent for v in verdicts)  # none of these equals 1
    # Worst case every item times out; plus start-up and fork costs (loose: a loaded machine).
    assert elapsed < len(preds) * timeout / workers + 60
