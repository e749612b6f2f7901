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
