"""Golden tables for extraction and equivalence, plus API contracts of flames.grading."""

import dataclasses
import logging
import subprocess
import sys
import threading

import pytest
from grading_golden import EQUIVALENCE, EXTRACTION, EXTRACTION_QWEN

from flames.grading import MODES, Verdict, answer_key, clean_answer, extract_answer, grade_batch, is_equivalent


def _directed_cases():
    """Every golden row, plus its swapped twin where the row is symmetric."""
    rows = []
    for case in EQUIVALENCE:
        rows.append((case.pred, case.gold, case.expected, case.reason))
        if case.symmetric:
            rows.append((case.gold, case.pred, case.expected, case.reason + " [swapped]"))
    return rows


DIRECTED = _directed_cases()


def test_golden_table_is_big_enough():
    assert len(EQUIVALENCE) >= 150
    assert len(EXTRACTION) >= 40
    assert {c.expected for c in EQUIVALENCE} == {True, False}
    assert all(c.reason for c in EQUIVALENCE)


@pytest.mark.parametrize(("text", "expected"), EXTRACTION, ids=[repr(t)[:40] for t, _ in EXTRACTION])
def test_extraction_golden(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(("text", "expected"), EXTRACTION_QWEN, ids=[repr(t)[:40] for t, _ in EXTRACTION_QWEN])
def test_qwen_extraction_golden(text, expected):
    assert extract_answer(text, mode="qwen") == expected


def test_math_verify_mode_extracts_inside_parse():
    assert extract_answer("  The answer is $5$.  ", mode="math_verify") == "The answer is $5$."
    assert extract_answer("", mode="math_verify") is None


def test_unknown_mode_is_refused():
    for call in (lambda: extract_answer("5", mode="nope"), lambda: is_equivalent("5", "5", mode="nope"),
                 lambda: grade_batch(["5"], ["5"], mode="nope", workers=0)):
        with pytest.raises(ValueError, match="flames, qwen, math_verify"):
            call()
    assert MODES == ("flames", "qwen", "math_verify")


@pytest.mark.parametrize("mode", MODES)
def test_is_equivalent_in_every_mode(mode):
    # Pairs on which all three graders agree, one of them through each slow path.
    assert is_equivalent("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", mode=mode)
    assert not is_equivalent("\\frac{\\sqrt{3}}{4}", "\\frac{1}{2}\\sqrt{3}", mode=mode)
    assert is_equivalent("18", "18", mode=mode)


def test_modes_differ_where_documented():
    assert [is_equivalent("0.3", "30", mode=m) for m in MODES] == [False, True, False]  # percent
    assert [is_equivalent("904.78", "288\\pi", mode=m) for m in MODES] == [False, True, False]  # tolerance
    assert [is_equivalent("10, 4, -2", "4, 10, -2", mode=m) for m in MODES] == [True, False, True]  # order


def _report(rows, verdicts):
    wrong = [
        f"{pred!r} vs gold {gold!r}: expected {expected}, got {v} ({reason})"
        for (pred, gold, expected, reason), v in zip(rows, verdicts)
        if v.equivalent != expected
    ]
    assert not wrong, f"{len(wrong)} golden pairs graded wrongly:\n" + "\n".join(wrong)


def test_equivalence_golden_in_process():
    verdicts = grade_batch([r[0] for r in DIRECTED], [r[1] for r in DIRECTED], workers=0)
    _report(DIRECTED, verdicts)


def test_equivalence_golden_in_worker_pool():
    verdicts = grade_batch([r[0] for r in DIRECTED], [r[1] for r in DIRECTED], timeout=20, workers=2)
    _report(DIRECTED, verdicts)
    assert not any(v.timed_out for v in verdicts)
    methods = {v.method for v in verdicts}
    assert {"string", "math_verify", "no_answer"} <= methods


@pytest.mark.parametrize("case", EQUIVALENCE[::6], ids=lambda c: c.reason[:40])
def test_is_equivalent_matches_golden(case):
    assert is_equivalent(case.pred, case.gold) is case.expected


def test_is_equivalent_outside_the_main_thread():
    # math-verify's signal-based timeouts raise in threads; is_equivalent must not.
    results = {}

    def work():
        results["v"] = is_equivalent("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}")

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert results == {"v": True}


def test_equal_keys_mean_string_path():
    # Everything below differs only in presentation: no math-verify call needed.
    same = [
        ("\\dfrac{1}{2}", "\\frac12"),
        ("$1,080$.", "1080"),
        ("x = 3", "3"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("10\\text{ cm}", "10"),
        ("45^\\circ", "45"),
        ("\\text{(C)}", "C"),
        ("18.50", "18.5"),
    ]
    for a, b in same:
        assert answer_key(a) == answer_key(b), (a, b)
    verdicts = grade_batch([a for a, _ in same], [b for _, b in same], workers=0)
    assert [v.method for v in verdicts] == ["string"] * len(same)


def test_answer_key_keeps_distinct_answers_apart():
    distinct = ["1", "-1", "10", "0.1", "(1,2)", "[1,2]", "1,2", "x^2", "x^{2}+1", "\\sin x", "\\sinh", "A", "a"]
    keys = [answer_key(a) for a in distinct]
    assert len(set(keys)) == len(keys), keys
    assert answer_key(None) is None
    assert answer_key("  $ $ ") is None


def test_clean_answer_is_idempotent_on_golden_strings():
    for case in EQUIVALENCE:
        for s in (case.pred, case.gold):
            if s is not None:
                once = clean_answer(s)
                assert clean_answer(once) == once, s


def test_disagreement_is_flagged_and_logged(caplog):
    # Exact rationals say 0.3333333 != 1/3; math-verify (6-decimal rounding) says equal.
    with caplog.at_level(logging.DEBUG, logger="flames.grading"):
        [v] = grade_batch(["0.3333333"], ["\\frac{1}{3}"], workers=0)
    assert v == Verdict(True, "math_verify", timed_out=False, disagreement=True)
    assert any("slow path said True" in r.getMessage() for r in caplog.records)


def test_audit_mode_reports_fast_path_deviations():
    # 30\% vs 0.3: the fast path accepts the percent reading, plain math-verify does not.
    [v] = grade_batch(["0.3"], ["30\\%"], workers=0, audit=True)
    assert (v.equivalent, v.method, v.disagreement) == (True, "string", True)
    [w] = grade_batch(["5"], ["5"], workers=0, audit=True)
    assert (w.equivalent, w.method, w.disagreement) == (True, "string", False)


def test_verdict_is_frozen_and_small():
    v = Verdict(True, "string")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.equivalent = False  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(Verdict)] == ["equivalent", "method", "timed_out", "disagreement"]


def test_batch_validates_input():
    with pytest.raises(ValueError):
        grade_batch(["1"], ["1", "2"])
    with pytest.raises(ValueError):
        grade_batch(["1"], ["1"], timeout=0)
    assert grade_batch([], []) == []
    [missing_gold] = grade_batch(["1"], [None], workers=0)  # type: ignore[list-item]
    assert missing_gold.method == "error" and not missing_gold.equivalent


def test_import_is_light():
    """No clock here (speed lives in bench/): the heavy modules left unimported are what keeps it fast."""
    code = (
        "import sys; import flames.grading; "
        "print('math_verify' in sys.modules, 'sympy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]  # light: none of the heavy modules is imported
