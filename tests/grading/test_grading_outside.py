"""Golden rows from other projects' grader test suites, checked in every grading mode."""

import pytest
from grading_outside import ROWS

from flames.grading import MODES, extract_answer, grade_batch

CONVENTIONS = {"order", "percent", "tolerance", "precision", "decimal_comma", "extraction", "mv_config", "notation"}


def test_outside_table_is_big_and_cited():
    assert len(ROWS) >= 300
    projects = {row.source.split()[0] for row in ROWS}
    assert len(projects) >= 3, projects
    assert all("/" in row.source.split()[0] and len(row.source.split()) >= 2 for row in ROWS)  # repo and file


def test_every_override_is_a_named_convention():
    for row in ROWS:
        overrides = [m for m in MODES if getattr(row, m) is not None]
        assert all(getattr(row, m) != row.expected for m in overrides), row
        assert bool(overrides) == bool(row.convention), row
        assert set(filter(None, row.convention.split(","))) <= CONVENTIONS, row


@pytest.mark.parametrize("mode", MODES)
def test_outside_rows_in_each_mode(mode):
    preds = [extract_answer(row.pred, mode=mode) if row.output else row.pred for row in ROWS]
    verdicts = grade_batch(preds, [row.gold for row in ROWS], mode=mode, timeout=20, workers=2)
    assert not [row for row, v in zip(ROWS, verdicts) if v.timed_out]
    wrong = [
        f"[{i}] {row.source}: gold={row.gold[:60]!r} pred={(pred or '')[:60]!r}: expected {row.verdict(mode)}, got {v}"
        for i, (row, pred, v) in enumerate(zip(ROWS, preds, verdicts))
        if v.equivalent != row.verdict(mode)
    ]
    assert not wrong, f"{len(wrong)} outside rows graded wrongly in the {mode} mode:\n" + "\n".join(wrong)
