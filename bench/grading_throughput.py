"""Grading throughput: flames.grading.grade_batch vs plain math-verify, same run, same pairs.

For each benchmark the gold answers are dressed as model outputs ("... The final answer
is $\\boxed{gold}$."); a share of them get a perturbed, wrong answer instead (last
integer + 1, or "+1" appended), so that not every pair is equal.

* baseline: ``verify(parse(f"${gold}$"), parse(output))`` for each pair, sequentially in
  this process, with math-verify's default (signal-based) timeouts. The gold is wrapped
  in ``$...$`` because ``parse`` does not recognise most bare LaTeX golds.
* grade_batch: ``extract_answer`` on each output, then ``grade_batch(preds, golds)``
  with its worker pool (started once before timing; its start-up is printed apart), in
  the default ``flames`` mode; the ratio is against the baseline.
* qwen mode: the same in the ``qwen`` mode (Qwen2.5-Math evaluation parity), for its
  speed and its "gold rejected / wrong accepted" counts.

Usage: python bench/grading_throughput.py [--data-dir DIR] [--limit N] [--show K]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

BENCHMARKS = [
    ("gsm8k_test", "GSM8K"),
    ("gsmplus_testmini", "GSM-Plus"),
    ("math500", "MATH-500"),
    ("math_test", "MATH"),
    ("olympiadbench_test", "OlympiadBench"),
    ("college_math_test", "CollegeMath"),
]


def as_model_output(answer: str) -> str:
    return "Let me work through it step by step.\nThe final answer is $\\boxed{" + answer + "}$."


def perturb(gold: str) -> str:
    """A wrong answer of the same shape: the last integer plus one."""
    matches = list(re.finditer(r"\d+", gold))
    if not matches:
        return gold + "+1"
    m = matches[-1]
    return gold[: m.start()] + str(int(m.group()) + 1) + gold[m.end() :]


def load_pairs(path: Path, limit: int | None, wrong_share: float, rng: random.Random):
    rows = [json.loads(line) for line in path.open() if line.strip()]
    if limit is not None and limit < len(rows):
        rows = rng.sample(rows, limit)
    golds = [r["answer"] for r in rows]
    wrong = [rng.random() < wrong_share for _ in golds]
    outputs = [as_model_output(perturb(g) if w else g) for g, w in zip(golds, wrong)]
    return golds, outputs, wrong


def run_baseline(golds, outputs):
    from math_verify import parse, verify

    started = time.perf_counter()
    results = [bool(verify(parse(f"${g}$"), parse(o))) for g, o in zip(golds, outputs)]
    return results, time.perf_counter() - started


def run_grade_batch(golds, outputs, timeout, workers, mode="flames"):
    from flames.grading import extract_answer, grade_batch

    started = time.perf_counter()
    preds = [extract_answer(o, mode=mode) for o in outputs]
    verdicts = grade_batch(preds, golds, timeout=timeout, workers=workers, mode=mode)
    return verdicts, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("FLAMES_DATA_DIR"), help="folder with benchmarks/*.jsonl (default $FLAMES_DATA_DIR)")
    parser.add_argument("--limit", type=int, default=None, help="pairs per benchmark (random sample; default all)")
    parser.add_argument("--wrong-share", type=float, default=0.3, help="share of perturbed (wrong) predictions")
    parser.add_argument("--timeout", type=float, default=5.0, help="grade_batch per-item timeout, seconds")
    parser.add_argument("--workers", type=int, default=None, help="grade_batch workers (default os.cpu_count())")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=0, help="print up to K pairs per benchmark where the two graders differ")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("give --data-dir or set FLAMES_DATA_DIR")
    bench_dir = Path(args.data_dir) / "benchmarks"

    # Warm both sides outside the timed region: imports, first-call costs, pool start-up.
    from math_verify import parse, verify

    verify(parse("$\\frac{1}{2}$"), parse("The answer is $0.5$"))
    from flames.grading import grade_batch

    started = time.perf_counter()
    grade_batch(["\\sqrt{8}"], ["2\\sqrt{2}"], timeout=30, workers=args.workers)
    startup = time.perf_counter() - started
    n_workers = args.workers if args.workers is not None else os.cpu_count()
    print(f"cpus={os.cpu_count()} workers={n_workers} timeout={args.timeout}s wrong_share={args.wrong_share} "
          f"pool start-up={startup:.2f}s (once per process, not in the rates below)")

    header = (f"| {'benchmark':<13} | {'pairs':>5} | {'math-verify pairs/s':>19} | {'grade_batch pairs/s':>19} | {'ratio':>6} "
              f"| {'fast path':>9} | {'timeouts':>8} | {'gold rejected mv/ours':>21} | {'wrong accepted mv/ours':>22} "
              f"| {'qwen mode pairs/s':>17} | {'qwen rejected/accepted':>22} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    total = {"n": 0, "base": 0.0, "ours": 0.0, "qwen": 0.0}
    rng = random.Random(args.seed)
    differences = []
    for file_name, label in BENCHMARKS:
        path = bench_dir / f"{file_name}.jsonl"
        if not path.exists():
            print(f"| {label:<13} | missing {path}")
            continue
        golds, outputs, wrong = load_pairs(path, args.limit, args.wrong_share, rng)
        base, base_s = run_baseline(golds, outputs)
        verdicts, ours_s = run_grade_batch(golds, outputs, args.timeout, args.workers)
        qwen_verdicts, qwen_s = run_grade_batch(golds, outputs, args.timeout, args.workers, mode="qwen")
        n = len(golds)
        fast = sum(v.method in ("string", "no_answer") for v in verdicts) / n
        timeouts = sum(v.timed_out for v in verdicts)
        differ = [(g, o, b, v, w) for g, o, b, v, w in zip(golds, outputs, base, verdicts, wrong) if b != v.equivalent]
        differences.append((label, differ))
        # gold rejected: an unperturbed pair graded unequal; wrong accepted: a perturbed
        # pair graded equal (an upper bound on false positives: a perturbation can
        # leave the value unchanged, e.g. \infty + 1).
        rejected = f"{sum(not b for b, w in zip(base, wrong) if not w)}/{sum(not v.equivalent for v, w in zip(verdicts, wrong) if not w)}"
        accepted = f"{sum(b for b, w in zip(base, wrong) if w)}/{sum(v.equivalent for v, w in zip(verdicts, wrong) if w)}"
        qwen_counts = (f"{sum(not v.equivalent for v, w in zip(qwen_verdicts, wrong) if not w)}/"
                       f"{sum(v.equivalent for v, w in zip(qwen_verdicts, wrong) if w)}")
        print(f"| {label:<13} | {n:>5} | {n / base_s:>19.1f} | {n / ours_s:>19.1f} | {base_s / ours_s:>5.1f}x "
              f"| {fast:>8.1%} | {timeouts:>8} | {rejected:>21} | {accepted:>22} | {n / qwen_s:>17.1f} | {qwen_counts:>22} |")
        total["n"] += n
        total["base"] += base_s
        total["ours"] += ours_s
        total["qwen"] += qwen_s
        sys.stdout.flush()
    if total["n"]:
        print(f"| {'overall':<13} | {total['n']:>5} | {total['n'] / total['base']:>19.1f} | {total['n'] / total['ours']:>19.1f} | "
              f"{total['base'] / total['ours']:>5.1f}x | {'':>9} | {'':>8} | {'':>21} | {'':>22} | {total['n'] / total['qwen']:>17.1f} | {'':>22} |")
    if args.show:
        for label, differ in differences:
            for gold, output, base, v, was_wrong in differ[: args.show]:
                pred = output.split("$\\boxed{", 1)[1][:-3]
                kind = "perturbed" if was_wrong else "gold-vs-gold"
                print(f"[{label}] {kind}: gold={gold[:70]!r} pred={pred[:70]!r} math-verify={base} grade_batch={v.equivalent} ({v.method})")
    return 0


if __name__ == "__main__":  # required: workers come from a forkserver that imports __main__
    sys.exit(main())
