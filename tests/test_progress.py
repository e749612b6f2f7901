"""flames.progress: a stage's bar opens at its first records done, holds the top line and stays; a backend's bar
opened inside it goes under it."""

from __future__ import annotations

from tqdm.auto import tqdm

from flames.progress import stage_bar
from tests.e2e import bar_counts


def test_a_stage_bar_opens_at_its_first_records_and_a_call_bar_inside_it_takes_the_next_line(capsys):
    with stage_bar("solve", 6, done=2, unit="problem") as bar:
        first_call = tqdm(total=4, desc="generate", leave=False)  # as the hf backend opens its own, per call
        first_call.close()
        assert bar.bar is None and capsys.readouterr().err.count("solve:") == 0  # nothing done yet: no bar
        bar.update(1)
        assert (bar.bar.n, bar.bar.total, bar.bar.pos) == (3, 6, 0)
        call = tqdm(total=4, desc="generate", leave=False)
        assert abs(call.pos) == 1  # on the line under the stage's (tqdm: the first free line)
        call.close()
        bar.advance_to(5)
        bar.advance_to(4)  # never back
        assert bar.n == bar.bar.n == 5
        bar.advance_to(9)  # never past the total (a chunk accepted past the target)
        assert bar.n == bar.bar.n == 6
    counts = bar_counts(capsys.readouterr().err, "solve")
    assert counts[0] == (3, 6) and counts[-1] == (6, 6), counts


def test_a_stage_that_stops_before_any_record_shows_no_bar(capsys):
    try:
        with stage_bar("synthesize[x]", 8):
            raise RuntimeError("the model did not load")
    except RuntimeError:
        pass
    assert "synthesize[x]" not in capsys.readouterr().err
