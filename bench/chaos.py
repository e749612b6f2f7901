"""Chaos: the quickstart SIGKILLed again and again, in every stage; nothing lost, nothing twice, same result.

1. A reference: `flames <overrides>` run once, uninterrupted, into its own store.
2. Chaos runs, each into a fresh store: `flames <overrides>` is started, and killed (SIGKILL to its whole
   process group: torchrun workers, the vLLM engine) at a random moment after its target stage started
   computing; started again with the next stage as its target, killed again, ... until an attempt finishes.
   Then the next run (after `--per-run` kills at most), until `--kills` kills. Targets go round the pipeline's stages, so every stage is hit
   (a kill aimed at a stage that ends first lands in the one after it; the printed stage is where it landed).
3. Each finished chaos run is compared with the reference, artifact by artifact (same stage, same key):
   records lost (ids the reference has and the run does not), records duplicated (an id written twice),
   records that differ, and the store's own check (`python -m flames.store verify`).

Printed: kills survived, by stage; lost, duplicated (both must be 0); artifacts equal to the reference.
A chunk killed halfway is redone whole with the same requests and seeds, so generation records are
expected equal; training resumed from a checkpoint may differ from an uninterrupted run in float
rounding, and evaluate outputs with it (reported, not hidden).

Usage: FLAMES_DATA_DIR=... python bench/chaos.py [--kills 20] [--seed 0] [--max-delay 20] [-- override ...]
(default overrides: none, i.e. the README's quickstart on the embedded model; ~4 min per uninterrupted run
on 2 CPU cores, so 20 kills take 20-30 min).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flames.jsonl import read_jsonl  # noqa: E402
from flames.store import MARKER, verify_store  # noqa: E402

COMPUTING = re.compile(r"\] - (\w+)(?:\[[^\]]*\])?: computing")
STAGES = ["synthesize", "problem_qc", "solve", "solution_qc", "mix", "train", "evaluate"]  # kill targets, in turn
VOLATILE = {"time", "created_at", "wall_time_s", "seconds"}  # fields a rerun may change


def flames_cmd(overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "flames", "logger=none", *overrides]


def env_for(store: Path) -> dict[str, str]:
    return {**os.environ, "FLAMES_STORE": str(store), "PYTHONUNBUFFERED": "1"}


def reference(overrides: list[str], store: Path, cwd: Path) -> float:
    t0 = time.time()
    proc = subprocess.run(flames_cmd(overrides), cwd=cwd, env=env_for(store), capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"the uninterrupted run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.time() - t0


class Attempt:
    """One `flames` process whose output is watched for the stage it is computing."""

    def __init__(self, overrides: list[str], store: Path, cwd: Path):
        self.proc = subprocess.Popen(flames_cmd(overrides), cwd=cwd, env=env_for(store), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.stage: str | None = None  # the stage computing now
        self.seen: set[str] = set()  # stages that began computing in this attempt
        self.changed = threading.Event()  # set at each stage start
        self.tail: list[str] = []
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        for line in self.proc.stdout:
            self.tail = (self.tail + [line])[-40:]
            m = COMPUTING.search(line)
            if m:
                self.stage = m.group(1)
                self.seen.add(self.stage)
                self.changed.set()

    def kill_after(self, target: str, delay: float) -> str | None:
        """SIGKILL the process group `delay` s after `target` (or a later stage) started computing; the stage
        computing then, or None when the attempt finished first."""
        later = set(STAGES[STAGES.index(target):])
        while not self.seen & later:
            self.changed.wait(0.2)
            self.changed.clear()
            if self.proc.poll() is not None:
                return None
        deadline = time.time() + delay
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        stage = self.stage
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        time.sleep(1)  # children die with their parent (torchrun workers: PR_SET_PDEATHSIG)
        return stage


def records(folder: Path) -> dict[str, list[dict]]:
    """id -> every record with it, written or dropped (more than one: a duplicate)."""
    out: dict[str, list[dict]] = {}
    for name in ("data.jsonl", "dropped.jsonl"):
        if (folder / name).exists():
            for r in read_jsonl(folder / name):
                out.setdefault(r["id"], []).append({k: v for k, v in r.items() if k not in VOLATILE})
    return out


def compare(ref_store: Path, store: Path) -> dict:
    """Per artifact of the reference: lost, duplicated and differing records in the chaos store's twin."""
    out = {"lost": 0, "duplicated": 0, "differ": 0, "records": 0, "artifacts": 0, "equal_artifacts": 0,
           "missing_artifacts": [], "differing": Counter()}
    for marker in sorted(ref_store.glob(f"*/*/{MARKER}")):
        ref, twin = marker.parent, store / marker.parent.parent.name / marker.parent.name
        out["artifacts"] += 1
        if not (twin / MARKER).exists():
            out["missing_artifacts"].append(f"{ref.parent.name}/{ref.name}")
            continue
        want, got = records(ref), records(twin)
        lost = [i for i in want if i not in got]
        dup = [i for i, rs in got.items() if len(rs) > 1]
        differ = [i for i in want if i in got and got[i][0] != want[i][0]]
        out["lost"] += len(lost)
        out["duplicated"] += len(dup)
        out["differ"] += len(differ)
        out["records"] += len(want)
        out["equal_artifacts"] += not (lost or dup or differ or set(got) - set(want))
        if differ or set(got) - set(want):
            out["differing"][ref.parent.name] += len(differ) + len(set(got) - set(want))
    out["bad_seals"] = [str(p) for p, _ in verify_store(store)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs in all (over as many runs as it takes)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    ap.add_argument("--max-delay", type=float, default=20.0, help="a kill comes 0..this many s after a stage starts")
    ap.add_argument("--per-run", type=int, default=len(STAGES),
                    help="kills in one run before it may finish (once round the stages: later ones land in evaluate)")
    ap.add_argument("--workdir", default=None, help="where the stores go (default: a temp folder, removed)")
    ap.add_argument("overrides", nargs="*", help="flames overrides (after --), e.g. agent=few_shot")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="flames-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"reference run: flames {' '.join(args.overrides)}", flush=True)
    seconds = reference(args.overrides, work / "reference", work)
    print(f"  {seconds:.0f} s uninterrupted", flush=True)
    kills, by_stage, runs, totals = 0, Counter(), 0, Counter()
    while kills < args.kills:
        runs += 1
        store, attempts = work / f"chaos-{runs}", 0
        while True:
            attempts += 1
            attempt = Attempt(args.overrides, store, work)
            target = STAGES[(attempts - 1) % len(STAGES)]
            more = kills < args.kills and attempts <= args.per_run
            stage = attempt.kill_after(target, rng.uniform(0, args.max_delay)) if more else None
            if stage is None:  # finished (or no kills left: let it finish)
                attempt.proc.wait()
                if attempt.proc.returncode:
                    print("".join(attempt.tail), file=sys.stderr)
                    sys.exit(f"run {runs}: attempt {attempts} failed with rc {attempt.proc.returncode}")
                break
            kills += 1
            by_stage[stage] += 1
            print(f"  run {runs}: kill {kills} in {stage}", flush=True)
        result = compare(work / "reference", store)
        for k in ("lost", "duplicated", "differ", "records", "artifacts", "equal_artifacts"):
            totals[k] += result[k]
        print(f"run {runs}: {attempts} attempts; lost {result['lost']}, duplicated {result['duplicated']}, "
              f"differing {result['differ']} of {result['records']} records; "
              f"{result['equal_artifacts']}/{result['artifacts']} artifacts equal to the reference"
              + (f"; differing by stage {dict(result['differing'])}" if result["differing"] else "")
              + (f"; MISSING {result['missing_artifacts']}" if result["missing_artifacts"] else "")
              + (f"; BAD SEALS {result['bad_seals']}" if result["bad_seals"] else ""), flush=True)
        totals["missing"] += len(result["missing_artifacts"])
        totals["bad_seals"] += len(result["bad_seals"])
    print(f"\nkills survived: {kills} over {runs} runs, by stage: {dict(by_stage)}")
    print(f"records lost: {totals['lost']}   duplicated: {totals['duplicated']}   "
          f"differing from the uninterrupted run: {totals['differ']} of {totals['records']}")
    print(f"artifacts equal to the uninterrupted run's: {totals['equal_artifacts']}/{totals['artifacts']}; "
          f"missing: {totals['missing']}; failing the store's check: {totals['bad_seals']}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    ok = totals["lost"] == totals["duplicated"] == totals["missing"] == totals["bad_seals"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
