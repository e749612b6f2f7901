"""The hard per-item timeout: a pathological item is killed, the batch carries on."""

import os
import signal
import threading
import time

from flames.grading import Verdict, grade_batch
from flames.grading.pool import get_pool

# sympy evaluates 9^(9^(9^9)) eagerly: a 1.2-gigabit integer, minutes of CPU. With
# math-verify's timeouts off (as in the workers) this never returns in a test's time
# (uncut, one item still ran after 300 s on 2 cores).
SLOW = "9^{9^{9^9}}"
# Wall-clock bounds below only tell "cut at its timeout" from "waited out" (minutes): they are
# loose for a loaded 2-core machine (worker start-up, forks). The proof of the cut is the
# timeout verdict and the pool's count of killed workers.
SLACK_S = 60


def test_pathological_item_times_out_and_the_rest_is_graded_in_order():
    preds = ["18", "\\frac{\\sqrt{3}}{2}", SLOW, "(1,2)", "0.5", None, "x^2+2x+1"]
    golds = ["18", "\\frac{1}{2}\\sqrt{3}", "2", "(2,1)", "\\frac{1}{2}", "3", "(x+1)^2"]
    pool = get_pool()
    started = time.monotonic()
    verdicts = grade_batch(preds, golds, timeout=1.0, workers=2)
    elapsed = time.monotonic() - started
    assert verdicts == [
        Verdict(True, "string"),
        Verdict(True, "math_verify"),
        Verdict(False, "timeout", timed_out=True),
        Verdict(False, "math_verify"),
        Verdict(True, "string"),
        Verdict(False, "no_answer"),
        Verdict(True, "math_verify"),
    ]
    assert elapsed < SLACK_S  # one timeout of 1 s, not minutes
    assert pool.replaced >= 1

    # The pool recovers: the next batch is graded normally.
    again = grade_batch(["2\\sqrt{2}", "3"], ["\\sqrt{8}", "4"], timeout=5.0, workers=2)
    assert [v.equivalent for v in again] == [True, False]


def test_several_slow_items_do_not_stall_the_batch():
    n_slow = 4
    preds = [SLOW] * n_slow + ["\\sqrt{8}"]
    golds = [str(i) for i in range(n_slow)] + ["2\\sqrt{2}"]  # distinct golds: no dedup
    started = time.monotonic()
    verdicts = grade_batch(preds, golds, timeout=0.5, workers=2)
    assert [v.timed_out for v in verdicts] == [True] * n_slow + [False]
    assert verdicts[-1].equivalent
    assert time.monotonic() - started < n_slow * 0.5 + SLACK_S


def test_identical_pairs_are_graded_once():
    pool = get_pool()
    grade_batch(["1"], ["\\sqrt{1}"], timeout=5.0, workers=1)  # make sure a worker exists
    before = pool.replaced
    started = time.monotonic()
    verdicts = grade_batch([SLOW] * 6, ["2"] * 6, timeout=0.5, workers=1)
    assert all(v.timed_out for v in verdicts)
    assert pool.replaced == before + 1  # one kill, not six
    assert time.monotonic() - started < SLACK_S


def test_worker_that_dies_mid_item_gives_an_error_verdict():
    pool = get_pool()
    grade_batch(["1"], ["\\sqrt{1}"], timeout=5.0, workers=1)
    result = {}

    def run():
        result["v"] = grade_batch([SLOW, "\\sqrt{4}"], ["2", "2"], timeout=60.0, workers=1)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 120  # a worker's start-up on a loaded machine (the pool allows 120 s)
    busy = []
    while not busy and time.monotonic() < deadline:
        busy = [w for w in pool._workers if w.task is not None]
        time.sleep(0.05)
    assert busy, "no worker picked up the item"
    time.sleep(0.2)
    os.kill(busy[0].process.pid, signal.SIGKILL)  # simulate a crash (segfault, OOM killer)
    t.join(120)
    assert not t.is_alive()
    assert result["v"] == [Verdict(False, "error"), Verdict(True, "math_verify")]
