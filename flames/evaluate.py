"""Stage `evaluate`: zero-shot CoT, greedy, \\boxed{} extraction, equivalence; predictions saved.

Every prediction record carries its verdict and, when the grader audit is on, whether the fast
path and math-verify disagreed on it (`disagreement`, and `graders` with what each said). The
disagreements are also copied to `disagreements.jsonl` next to the predictions, so that a grader
question can be read without scanning every prediction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from flames.grading import extract_answer, grade_batch
from flames.jsonl import read_jsonl
from flames.llm import LLM, Sampling, usage
from flames.store import RecordWriter

log = logging.getLogger(__name__)

# Subset fields of prediction files written before `subsets` was a record field.
LEGACY_SUBSETS = ("level", "type", "perturbation_type", "subfield", "data_topic")
DISAGREEMENTS = "disagreements.jsonl"


def evaluate(suite: dict[str, list[dict]], out_dir: Path, llm: LLM, sampling: Sampling, prompt: str,
             chunk_size: int = 256, subsets: dict[str, list[str]] | None = None, audit: bool = True) -> dict:
    """Answer every item of every benchmark; predictions go to out_dir/data.jsonl (resumable)."""
    writer = RecordWriter(out_dir)
    for name, items in suite.items():
        todo = [it for it in items if f"{name}/{it['id']}" not in writer.done_ids]
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start:start + chunk_size]
            log.info("evaluate[%s]: %d-%d of %d", name, start, start + len(chunk), len(todo))
            gens = llm.chat([[{"role": "user", "content": f"{it['problem']}\n{prompt}"}] for it in chunk], sampling)
            writer.log_call(step=name, **usage(gens))
            writer.write(prediction_records(name, chunk, [g.texts[0] for g in gens],
                                            (subsets or {}).get(name, ()), audit, [g.is_truncated() for g in gens]))
    predictions = list(read_jsonl(out_dir / "data.jsonl"))
    write_disagreements(out_dir / DISAGREEMENTS, predictions)
    return metrics(predictions)


def prediction_records(benchmark: str, items: list[dict], outputs: list[str], subsets=(), audit: bool = True,
                       truncated: list[bool] | None = None) -> list[dict]:
    """One graded record per item: the raw output (and whether it hit the token limit), the answer, the verdict."""
    truncated = truncated or [False] * len(items)
    records = [
        {"id": f"{benchmark}/{it['id']}", "benchmark": benchmark, "item_id": it["id"], "problem": it["problem"],
         "gold": str(it["answer"]), "output": out, "truncated": cut,
         "subsets": {f: it[f] for f in subsets if it.get(f) is not None}}
        for it, out, cut in zip(items, outputs, truncated)
    ]
    return grade_records(records, audit)


def grade_records(records: list[dict], audit: bool = True) -> list[dict]:
    """(Re)compute pred and verdict fields from each record's output and gold."""
    preds = [extract_answer(r["output"]) for r in records]
    verdicts = grade_batch(preds, [r["gold"] for r in records], audit=audit)
    out = []
    for r, pred, v in zip(records, preds, verdicts):
        r = {k: x for k, x in r.items() if k != "graders"}
        r.update(pred=pred, correct=v.equivalent, method=v.method, timed_out=v.timed_out, audit=audit,
                 disagreement=v.disagreement)
        if v.disagreement:  # the verdict is one path's answer; the other path said the opposite
            fast = v.equivalent if v.method == "string" else not v.equivalent
            r["graders"] = {"fast_path": fast, "math_verify": not fast}
        out.append(r)
    return out


def write_disagreements(path: Path, predictions: list[dict]) -> None:
    """The predictions on which the two grader paths disagreed (rewritten whole: resume-safe)."""
    rows = [p for p in predictions if p.get("disagreement")]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(path)
    if rows:
        log.warning("evaluate: the fast grader and math-verify disagreed on %d predictions: %s", len(rows), path)


def metrics(predictions) -> dict:
    """Accuracy per benchmark and per subset; unparseable answers, outputs cut by the token limit,
    grader timeouts, grader disagreements."""
    by = defaultdict(lambda: {"n": 0, "correct": 0, "unparseable": 0, "truncated": 0, "timeouts": 0,
                              "disagreements": 0})
    for p in predictions:
        subsets = p.get("subsets")
        if subsets is None:
            subsets = {f: p[f] for f in LEGACY_SUBSETS if p.get(f) is not None}
        for k in [p["benchmark"]] + [f"{p['benchmark']}/{f}={v}" for f, v in subsets.items()]:
            m = by[k]
            m["n"] += 1
            m["correct"] += bool(p["correct"])
            m["unparseable"] += p["pred"] is None
            m["truncated"] += bool(p.get("truncated"))
            m["timeouts"] += bool(p["timed_out"])
            m["disagreements"] += bool(p.get("disagreement"))
    return {k: {**m, "accuracy": round(100 * m["correct"] / m["n"], 2)} for k, m in sorted(by.items())}


def regrade(predictions: Path, audit: bool | None = None) -> dict:
    """Grade a saved predictions file again, offline, from its raw outputs.

    `audit=None` audits as the file was graded (its records say), so that the disagreement
    counts are reproduced too.
    """
    rows = list(read_jsonl(predictions))
    if audit is None:
        audit = any(r.get("audit") for r in rows)
    return metrics(grade_records(rows, audit))
