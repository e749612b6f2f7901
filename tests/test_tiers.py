"""tests/tiers.py itself: CI may not pass by skipping, data tests land in the full tier, the fast tier deselects it."""

from pathlib import Path

import pytest

import tests.tiers as tiers

SUITE = '''
import pytest

@pytest.fixture
def flames_data():
    pytest.skip("real data not found")

def test_needs_a_service():
    pytest.skip("SLURM is unavailable")

def test_needs_data(flames_data):
    pass

@pytest.mark.slow
def test_slow():
    pass

def test_plain():
    pass
'''


@pytest.fixture
def suite(pytester, monkeypatch):
    pytester.makeconftest('pytest_plugins = ["tests.tiers"]')
    pytester.makepyfile(test_suite=SUITE)
    for var in ("CI", "FLAMES_STRICT_SKIPS"):
        monkeypatch.delenv(var, raising=False)
    return pytester


def test_outside_ci_a_missing_service_or_data_skips(suite):
    suite.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=2)


@pytest.mark.parametrize("var", ["CI", "FLAMES_STRICT_SKIPS"])
def test_under_ci_a_skip_fails_the_run_naming_its_reason(suite, monkeypatch, var):
    monkeypatch.setenv(var, "1" if var == "FLAMES_STRICT_SKIPS" else "true")
    result = suite.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, errors=1)  # a skip in a fixture fails as an error at setup
    assert result.ret != 0
    for reason in ("SLURM is unavailable", "real data not found"):
        result.stdout.fnmatch_lines([f"*skipped under CI*{reason}*"])


def test_under_ci_an_allowed_skip_still_skips(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(tiers.ALLOWED_SKIPS, "test_suite.py::test_needs_a_service", "a reason written down")
    suite.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=1, errors=1)


def test_the_fast_tier_deselects_data_and_slow_tests_and_says_how_to_run_them(suite):
    result = suite.runpytest_inprocess("-p", "no:cacheprovider", "-m", "not full")
    result.assert_outcomes(passed=1, skipped=1)  # test_plain, and the service test (no marker: fast tier)
    result.stdout.fnmatch_lines(["*2 tests of the full tier not run here: python -m pytest -m full*"])
    full = suite.runpytest_inprocess("-p", "no:cacheprovider", "-m", "full")
    full.assert_outcomes(passed=1, skipped=1)  # test_slow, and the data test


GROUPED = '''
import os
import pytest

@pytest.fixture(scope="session")
def quickstart():
    return os.environ["PYTEST_XDIST_WORKER"]

def record(name, worker):
    with open(os.path.join(os.environ["WORKERS_LOG"], name), "w") as f:
        f.write(worker)

@pytest.mark.slurm
@pytest.mark.parametrize("n", range(4))
def test_slurm(n):
    record(f"slurm{n}", os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.slow
@pytest.mark.parametrize("n", range(4))
def test_uses_quickstart(quickstart, n):
    record(f"quickstart{n}", quickstart)
'''


def test_on_two_workers_a_service_and_a_session_fixture_stay_on_one(pytester, monkeypatch):
    """The full tier's `-n 2 --dist loadgroup`: every SLURM test on one worker, every quickstart test on one
    (a session fixture is built once per worker: two workers would run the quickstart twice)."""
    pytester.makeconftest('pytest_plugins = ["tests.tiers"]')
    pytester.makepyfile(test_grouped=GROUPED)
    log = pytester.mkdir("workers")
    monkeypatch.setenv("WORKERS_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", str(Path(tiers.__file__).resolve().parents[1]))  # `tests.tiers`, in a subprocess
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "full", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=8)
    workers = {f.name: f.read_text() for f in log.iterdir()}
    assert len({w for n, w in workers.items() if n.startswith("slurm")}) == 1, workers
    assert len({w for n, w in workers.items() if n.startswith("quickstart")}) == 1, workers


@pytest.mark.parametrize(("worker", "cpus", "share"), [("gw0", [0, 1], [0]), ("gw1", [0, 1], [1]),
                                                       ("gw1", [0, 1, 2, 3, 4], [1, 3]), ("gw1", [0], [0])])
def test_each_worker_gets_its_own_cpus_and_one_thread_per_cpu(monkeypatch, worker, cpus, share):
    """Two workers on 2 cores, each with torch's default one thread per core, oversubscribe them (the full tier
    ran 1.9x slower): a worker and what it starts run on its own share of the CPUs."""
    pinned = {}
    monkeypatch.setattr(tiers.os, "sched_getaffinity", lambda pid: set(cpus))
    monkeypatch.setattr(tiers.os, "sched_setaffinity", lambda pid, mask: pinned.update(mask=list(mask)))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delitem(tiers.sys.modules, "torch", raising=False)  # not imported yet: only the environment is set
    tiers.share_cpus_among_workers()
    if len(cpus) < 2:  # fewer CPUs than workers: nothing to share
        assert not pinned and "OMP_NUM_THREADS" not in tiers.os.environ
    else:
        assert pinned["mask"] == share and tiers.os.environ["OMP_NUM_THREADS"] == str(len(share))


def test_the_long_groups_are_handed_out_first_and_a_group_keeps_its_order():
    class Item:
        def __init__(self, name, group):
            self.name, self.group = name, group

        def get_closest_marker(self, _):
            return pytest.mark.xdist_group(self.group).mark

    items = [Item("a", "tests/test_x.py"), Item("b", "vllm"), Item("c", "quickstart"), Item("d", "vllm"),
             Item("e", "tests/test_y.py")]
    tiers.pytest_collection_modifyitems(items)
    assert [i.name for i in items] == ["c", "b", "d", "a", "e"]
