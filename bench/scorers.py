"""Data scorers at scale: flames.scores over a synthetic 150K-problem pool, against reading the pool alone.

    python bench/scorers.py              # 150,000 problems, 3 samples each, on 2 cores
    python bench/scorers.py --n 20000    # quick

The pool is made here, in the scripted backend's style, with no model: the built-in seeds (flames.builtin,
generated arithmetic word problems with answers), each rewritten as Distraction Insertion does (one irrelevant
sentence inserted, the answer kept) with its numbers redrawn on later draws, 2% near-copies of an earlier
problem, and 3 sampled solutions per problem (right, or off by one, at random). Then, timed on `--cores` CPUs
(sched_setaffinity):

- baseline: reading the solve file and merging its samples (flames.views.merge_samples), what any scorer pays;
- scorers: `flames.scores.score_artifact` end to end, what the solution_qc stage runs: read, score every
  problem (difficulty, topic/level, length, novelty against its seed and the seed set, near-duplicate
  clusters), write scores.jsonl, summarize. Its time is the framework time (criterion: under 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flames import builtin  # noqa: E402
from flames.jsonl import read_jsonl, write_jsonl  # noqa: E402
from flames.scores import score_artifact  # noqa: E402
from flames.views import merge_samples  # noqa: E402

DISTRACTIONS = ["The weather is sunny and warm that day.", "Their neighbour owns a red bicycle.",
                "It had rained the night before.", "The shop opens at nine every morning.",
                "A cat sleeps on the windowsill.", "The radio plays an old song."]


def pool(n: int, num_seeds: int, samples: int, rnd: random.Random) -> tuple[list[dict], list[dict]]:
    """(seeds, solve rows): n problems over `num_seeds` seeds, `samples` solutions each."""
    seeds = builtin.seeds(num_seeds)
    rows = []
    for i in range(n):
        seed = seeds[i % num_seeds]
        if rows and rnd.random() < 0.02:  # a near-copy of an earlier problem
            text = rows[rnd.randrange(len(rows))]["problem"].replace(".", " .", 1)
        else:
            sentences = seed["problem"].split(". ")
            sentences.insert(rnd.randrange(len(sentences)), rnd.choice(DISTRACTIONS).rstrip("."))
            text = ". ".join(sentences)
            if i >= num_seeds:  # a later draw: other numbers
                text = " ".join(str(rnd.randint(2, 99)) if w.isdigit() else w for w in text.split(" "))
        answer = seed["answer"]
        rows.append({"id": f"distraction_insertion-{seed['id']}@{i // num_seeds}", "problem": text,
                     "agent": "distraction_insertion", "seed_ids": [seed["id"]], "seed_dataset": "builtin",
                     "seed_answer": answer, "draw": i // num_seeds, "view_rank": i, "prompt_tokens": 40,
                     "solutions": [_sample(answer, rnd) for _ in range(samples)]})
    return seeds, rows


def _sample(answer: str, rnd: random.Random) -> dict:
    given = answer if rnd.random() < 0.6 else str(int(answer) + rnd.choice((-1, 1)))
    return {"text": f"We add things up. The answer is \\boxed{{{given}}}.", "answer": given,
            "completion_tokens": rnd.randint(40, 200), "truncated": False}


def timed(fn):
    """(fn(), wall seconds, CPU seconds of this process): on a shared machine the two differ."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=150_000, help="problems in the pool")
    ap.add_argument("--seeds", type=int, default=7_500, help="seed problems (GSM8K train holds 7,473)")
    ap.add_argument("--samples", type=int, default=3, help="sampled solutions per problem")
    ap.add_argument("--cores", type=int, default=2, help="CPUs the process may use")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    seeds, rows = pool(args.n, args.seeds, args.samples, random.Random(0))
    with tempfile.TemporaryDirectory() as tmp:
        solved, out = Path(tmp) / "solve.jsonl", Path(tmp) / "qc"
        out.mkdir()
        write_jsonl(solved, rows)
        write_jsonl(out / "data.jsonl", ({"id": r["id"]} for r in rows[::2]))  # QC kept every other problem
        merged, base, base_cpu = timed(lambda: list(merge_samples(read_jsonl(solved), args.samples)))
        summary, took, took_cpu = timed(lambda: score_artifact(solved, out, seeds, gold=True, num_samples=args.samples,
                                                     num_problems=None))
        size = (out / "scores.jsonl").stat().st_size
    print(f"pool: {len(merged):,} problems x {args.samples} samples, {len(seeds):,} seeds, on {cores} CPU(s)")
    print(f"baseline (read the solve file and merge samples): {base:6.1f} s wall, {base_cpu:6.1f} s CPU")
    print(f"scorers (score_artifact, framework time):        {took:6.1f} s wall, {took_cpu:6.1f} s CPU  ({took / base:.1f}x the baseline, "
          f"{1e6 * took / len(merged):.0f} us/problem; scores.jsonl {size / 1e6:.1f} MB)")
    print(f"criterion (< 60 s on 2 cores): {'PASS' if took < 60 and cores <= 2 else 'FAIL' if took >= 60 else 'n/a'}")
    print(json.dumps({k: summary[k] for k in ("all", "diversity")}, indent=None)[:600])


if __name__ == "__main__":
    main()
