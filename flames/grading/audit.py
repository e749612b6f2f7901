"""Disagreement audit: where do the grading modes differ on real predictions?

``audit_modes`` regrades the rows of an evaluate artifact (``data.jsonl``: each row has
the raw model ``output`` and the ``gold``, plus ``id`` and ``benchmark``) in every
requested mode, extraction included, and lists the rows on which the modes' verdicts
differ. ``summarize`` counts them per benchmark.

    python -m flames.grading.audit <evaluate artifact>/data.jsonl [mode,mode,...]

prints the counts per benchmark and writes the differing rows to ``modes_disagree.jsonl`` next to it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from .batch import grade_batch
from .extract import extract_answer
from .modes import MODES, check_mode


def audit_modes(
    rows: list[dict],
    modes: tuple[str, ...] | list[str] = MODES,
    *,
    timeout: float = 5.0,
    workers: int | None = None,
) -> list[dict]:
    """One record per row whose verdict differs between ``modes`` (input order).

    A record holds the row's ``id``, ``benchmark`` and ``gold``, and for every mode
    ``pred_<mode>``, ``correct_<mode>`` and ``method_<mode>``. A timed-out item counts
    as incorrect in its mode; its method says "timeout".
    """
    modes = [check_mode(m) for m in modes]
    if len(modes) < 2:
        raise ValueError("an audit compares at least two grading modes")
    golds = [str(r["gold"]) for r in rows]
    graded = {}
    for mode in modes:
        preds = [extract_answer(r.get("output"), mode=mode) for r in rows]
        graded[mode] = (preds, grade_batch(preds, golds, timeout=timeout, workers=workers, mode=mode))
    differing = []
    for i, row in enumerate(rows):
        verdicts = {m: graded[m][1][i] for m in modes}
        if len({v.equivalent for v in verdicts.values()}) > 1:
            record = {"id": row.get("id"), "benchmark": row.get("benchmark"), "gold": golds[i]}
            for m in modes:
                record[f"pred_{m}"] = _short(graded[m][0][i])
                record[f"correct_{m}"] = verdicts[m].equivalent
                record[f"method_{m}"] = verdicts[m].method
            differing.append(record)
    return differing


def summarize(differing: list[dict], rows: list[dict], modes: tuple[str, ...] | list[str] = MODES) -> dict:
    """Per benchmark: rows, rows in disagreement, and how often each mode was the one saying "correct"."""
    total = Counter(r.get("benchmark") for r in rows)
    summary = {b: {"rows": n, "disagree": 0, **{f"correct_{m}": 0 for m in modes}} for b, n in total.items()}
    for d in differing:
        entry = summary[d["benchmark"]]
        entry["disagree"] += 1
        for m in modes:
            entry[f"correct_{m}"] += bool(d[f"correct_{m}"])
    return summary


def _short(pred: str | None, limit: int = 300) -> str | None:
    """The ``math_verify`` mode's prediction is the whole output: keep records readable."""
    return pred if pred is None or len(pred) <= limit else pred[:limit] + "..."


def main(argv: list[str] | None = None) -> int:
    """The audit of one predictions file, as a command (see the module docstring)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m flames.grading.audit <evaluate artifact>/data.jsonl [flames,qwen,math_verify]")
        return 2
    path = Path(args[0])
    modes = args[1].split(",") if len(args) > 1 else list(MODES)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("sample") is None]  # the greedy answers (a sampled run repeats items k times)
    differing = audit_modes(rows, modes)
    out = path.with_name("modes_disagree.jsonl")
    out.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in differing), encoding="utf-8")
    print(f"{'benchmark':<24} {'rows':>6} {'disagree':>8} " + " ".join(f"{'ok:' + m:>14}" for m in modes))
    for bench, s in summarize(differing, rows, modes).items():
        print(f"{bench:<24} {s['rows']:>6} {s['disagree']:>8} " + " ".join(f"{s['correct_' + m]:>14}" for m in modes))
    print(f"{len(differing)} rows differ; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
