"""Random and adversarial input: nothing may hang, raise or take unbounded time."""

import contextlib
import signal

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


# A hang guard, not a speed bound (speed lives in bench/): catastrophic backtracking on these strings
# runs for hours; each string's checks take well under a second, on a loaded machine too.
HANG_GUARD_S = 120


@contextlib.contextmanager
def hang_guard(seconds: float, what: str):
    """Fail the test if the block is still running after ``seconds``. SIGALRM in the main thread:
    the regex engine checks for signals as it backtracks, so the handler's failure interrupts it."""

    def hung(signum, frame):
        pytest.fail(f"still running after {seconds} s (catastrophic backtracking?): {what}", pytrace=False)

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
def test_adversarial_strings_do_not_hang_in_pure_python(mode):
    for s in ADVERSARIAL:
        with hang_guard(HANG_GUARD_S, repr(s[:60])):
            extract_answer(s, mode=mode)
            extract_answer("Thus \\boxed{" + s + "}", mode=mode)
            answer_key(s)
            plan_pair(s, "1", mode=mode)
            plan_pair("The answer is " + s, "\\boxed{" + s + "}", mode=mode)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(latex_soup, latex_soup), min_size=1, max_size=4), st.sampled_from(MODES))
def test_grade_batch_survives_random_pairs(pairs, mode):
    preds = [extract_answer(p, mode=mode) for p, _ in pairs]
    golds = [g or "0" for _, g in pairs]
    verdicts = grade_batch(preds, golds, timeout=0.5, workers=2, mode=mode)  # the pool cuts any slow item
    assert len(verdicts) == len(pairs)
    assert all(v.method in METHODS for v in verdicts)


@pytest.mark.parametrize("mode", MODES)
def test_grade_batch_survives_adversarial_pairs(mode):
    preds = ADVERSARIAL + ["1"] * len(ADVERSARIAL)
    golds = ["1"] * len(ADVERSARIAL) + ADVERSARIAL
    # The pool cuts each item at its timeout (a timeout verdict), so the batch returns whatever the load;
    # no clock is read here (tests/grading/test_grading_timeout.py proves the cut).
    verdicts = grade_batch(preds, golds, timeout=0.5, workers=2, mode=mode)
    assert len(verdicts) == len(preds)
    assert all(v.method in METHODS for v in verdicts)
    if mode == "flames":
        assert not any(v.equivalent for v in verdicts)  # none of these equals 1
