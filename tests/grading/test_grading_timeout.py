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
# A batch has one per-item timeout. Where a batch holds normal items too, it is long enough that
# no loaded machine cuts them (each takes well under a second, under 0.4 s cold on 2 loaded
# cores), and still far shorter than SLOW's minutes: SLOW is cut at it. No clock is read: the
# proof of the cut is the timeout verdict and the pool's count of killed workers.
NORMAL_TIMEOUT_S = 20.0
# Where every item of a batch is SLOW, no verdict can flip: a short timeout keeps the test quick.
SLOW_ONLY_TIMEOUT_S = 0.5


def test_pathological_item_times_out_and_the_rest_is_graded_in_order():
    preds = ["18", "\\frac{\\sqrt{3}}{2}", SLOW, "(1,2)", "0.5", None, "x^2+2x+1"]
    golds = ["18", "\\frac{1}{2}\\sqrt{3}", "2", "(2,1)", "\\frac{1}{2}", "3", "(x+1)^2"]
    pool = get_pool()
    before = pool.replaced
    verdicts = grade_batch(preds, golds, timeout=NORMAL_TIMEOUT_S, workers=2)
    assert verdicts == [
        Verdict(True, "string"),
        Verdict(True, "math_verify"),
        Verdict(False, "timeout", timed_out=True),
        Verdict(False, "math_verify"),
        Verdict(True, "string"),
        Verdict(False, "no_answer"),
        Verdict(True, "math_verify"),
    ]
    assert pool.replaced == before + 1  # the pathological item's worker was killed: cut, not waited out

    # The pool recovers: the next batch is graded normally.
    again = grade_batch(["2\\sqrt{2}", "3"], ["\\sqrt{8}", "4"], timeout=NORMAL_TIMEOUT_S, workers=2)
    assert [v.equivalent for v in again] == [True, False]
    assert [v.timed_out for v in again] == [False, False]


def test_several_slow_items_do_not_stall_the_batch():
    n_slow = 4
    golds = [str(i) for i in range(n_slow)]  # distinct golds: no dedup
    pool = get_pool()
    before = pool.replaced
    # Two workers, four slow items: the replacement workers take the next slow items, and are cut in turn.
    # Only slow items here (a normal item could not share this short timeout on a loaded machine; the
    # test above grades normal items around a cut, at the long one).
    verdicts = grade_batch([SLOW] * n_slow, golds, timeout=SLOW_ONLY_TIMEOUT_S, workers=2)
    assert verdicts == [Verdict(False, "timeout", timed_out=True)] * n_slow
    assert pool.replaced == before + n_slow  # each slow item cut in its own worker, none waited out
    after = grade_batch(["\\sqrt{8}"], ["2\\sqrt{2}"], timeout=NORMAL_TIMEOUT_S, workers=2)
    assert after == [Verdict(True, "math_verify")]  # and the pool grades on


def test_identical_pairs_are_graded_once():
    pool = get_pool()
    grade_batch(["1"], ["\\sqrt{1}"], timeout=NORMAL_TIMEOUT_S, workers=1)  # make sure a worker exists
    before = pool.replaced
    verdicts = grade_batch([SLOW] * 6, ["2"] * 6, timeout=SLOW_ONLY_TIMEOUT_S, workers=1)
    assert all(v.timed_out for v in verdicts)
    assert pool.replaced == before + 1  # one kill, not six


def test_worker_that_dies_mid_item_gives_an_error_verdict():
    pool = get_pool()
    grade_batch(["1"], ["\\sqrt{1}"], timeout=NORMAL_TIMEOUT_S, workers=1)
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
