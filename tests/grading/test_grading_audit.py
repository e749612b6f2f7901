"""audit_modes: the rows of an evaluate artifact on which the grading modes disagree."""

import pytest

from flames.grading import MODES, audit_modes
from flames.grading.audit import summarize

# Rows shaped like an evaluate artifact's data.jsonl (flames/evaluate.py: prediction_records).
ROWS = [
    {"id": "gsm8k/1", "benchmark": "gsm8k", "gold": "18", "output": "So 9 + 9 = 18.\nThe answer is $\\boxed{18}$.",
     "pred": "18", "correct": True},
    {"id": "gsm8k/2", "benchmark": "gsm8k", "gold": "30", "output": "The share is $\\boxed{0.3}$.", "pred": "0.3", "correct": False},
    {"id": "math/1", "benchmark": "math", "gold": "x \\ge 5", "output": "Therefore $x \\geq 5$ is the solution.",
     "pred": "x \\geq 5", "correct": True},
    {"id": "math/2", "benchmark": "math", "gold": "1, 2", "output": "The roots are $\\boxed{1}, \\boxed{2}$.",
     "pred": "1, 2", "correct": True},
    {"id": "math/3", "benchmark": "math", "gold": "17", "output": "No idea.", "pred": None, "correct": False},
]


def test_audit_lists_only_the_rows_where_modes_differ():
    records = audit_modes(ROWS, workers=0)
    by_id = {r["id"]: r for r in records}
    assert set(by_id) == {"gsm8k/2", "math/1", "math/2"}
    # percent convention: Qwen also reads the gold 30 as 30/100
    assert [by_id["gsm8k/2"][f"correct_{m}"] for m in MODES] == [False, True, False]
    # Qwen takes the last number (5) of an output without a box; its last box (2) of several
    assert [by_id["math/1"][f"correct_{m}"] for m in ("flames", "qwen")] == [True, False]
    assert by_id["math/1"]["pred_qwen"] == "5"
    assert [by_id["math/2"][f"correct_{m}"] for m in ("flames", "qwen")] == [True, False]
    for record in records:
        assert set(record) == {"id", "benchmark", "gold"} | {f"{k}_{m}" for k in ("pred", "correct", "method") for m in MODES}


def test_summary_counts_per_benchmark():
    records = audit_modes(ROWS, ("flames", "qwen"), workers=0)
    summary = summarize(records, ROWS, ("flames", "qwen"))
    assert summary["gsm8k"] == {"rows": 2, "disagree": 1, "correct_flames": 0, "correct_qwen": 1}
    assert summary["math"] == {"rows": 3, "disagree": 2, "correct_flames": 2, "correct_qwen": 0}


def test_audit_needs_two_known_modes():
    with pytest.raises(ValueError):
        audit_modes(ROWS, ("flames",))
    with pytest.raises(ValueError):
        audit_modes(ROWS, ("flames", "sympy"))
