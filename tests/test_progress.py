"""flames.progress: a stage's bar holds the top line and stays; a backend's bar opened inside it goes under it."""

from __future__ import annotations

from tqdm.auto import tqdm

from flames.progress import advance_to, stage_bar
from tests.e2e import bar_counts


def test_a_stage_bar_counts_records_and_a_call_bar_inside_it_takes_the_next_line(capsys):
    with stage_bar("solve", 6, done=2, unit="problem") as bar:
        assert (bar.n, bar.total, bar.pos) == (2, 6, 0)
        call = tqdm(total=4, desc="generate", leave=False)  # as the hf backend opens its own, per call
        assert abs(call.pos) == 1  # on the line under the stage's (tqdm: the first free line)
        call.close()
        advance_to(bar, 5)
        advance_to(bar, 3)  # never back
        assert bar.n == 5
        advance_to(bar, 9)  # never past the total (a chunk accepted past the target)
        assert bar.n == 6
    counts = bar_counts(capsys.readouterr().err, "solve")
    assert counts[0] == (2, 6) and counts[-1] == (6, 6), counts
