"""Stage `evaluate`: zero-shot CoT, greedy, \\boxed{} extraction, equivalence; predictions saved."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from flames.grading import extract_answer, grade_batch
from flames.jsonl import read_jsonl
from flames.llm import LLM, Sampling
from flames.store import RecordWriter

log = logging.getLogger(__name__)

SUBSET_FIELDS = ("level", "type", "perturbation_type", "subfield", "data_topic")


def evaluate(suite: dict[str, list[dict]], out_dir: Path, llm: LLM, sampling: Sampling, prompt: str,
             chunk_size: int = 256) -> dict:
    """Answer every item of every benchmark; predictions go to out_dir/data.jsonl (resumable)."""
    writer = RecordWriter(out_dir)
    for name, items in suite.items():
        todo = [it for it in items if f"{name}/{it['id']}" not in writer.done_ids]
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start:start + chunk_size]
            log.info("evaluate[%s]: %d-%d of %d", name, start, start + len(chunk), len(todo))
            gens = llm.chat([[{"role": "user", "content": f"{it['problem']}\n{prompt}"}] for it in chunk], sampling)
            writer.log_call(len(chunk), sum(g.prompt_tokens for g in gens),
                            sum(sum(g.completion_tokens) for g in gens), step=name)
            writer.write(prediction_records(name, chunk, [g.texts[0] for g in gens]))
    return metrics(read_jsonl(out_dir / "data.jsonl"))


def prediction_records(benchmark: str, items: list[dict], outputs: list[str]) -> list[dict]:
    """Extract and grade outputs; one record per item with the verdict."""
    preds = [extract_answer(o) for o in outputs]
    verdicts = grade_batch(preds, [str(it["answer"]) for it in items])
    return [
        {"id": f"{benchmark}/{it['id']}", "benchmark": benchmark, "item_id": it["id"], "problem": it["problem"],
         "gold": str(it["answer"]), "output": out, "pred": pred, "correct": v.equivalent, "method": v.method,
         "timed_out": v.timed_out, **{k: it[k] for k in SUBSET_FIELDS if k in it}}
        for it, out, pred, v in zip(items, outputs, preds, verdicts)
    ]


def metrics(predictions) -> dict:
    """Accuracy per benchmark (and per subset field), unparseable answers and grader timeouts."""
    by = defaultdict(lambda: {"n": 0, "correct": 0, "unparseable": 0, "timeouts": 0})
    for p in predictions:
        keys = [p["benchmark"]] + [f"{p['benchmark']}/{f}={p[f]}" for f in SUBSET_FIELDS if p.get(f) is not None]
        for k in keys:
            m = by[k]
            m["n"] += 1
            m["correct"] += bool(p["correct"])
            m["unparseable"] += p["pred"] is None
            m["timeouts"] += bool(p["timed_out"])
    return {k: {**m, "accuracy": round(100 * m["correct"] / m["n"], 2)} for k, m in sorted(by.items())}


def regrade(predictions: Path) -> dict:
    """Grade a saved predictions file again, offline, from its raw outputs."""
    rows = list(read_jsonl(predictions))
    out = []
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        sub = [r for r in rows if r["benchmark"] == bench]
        items = [{"id": r["item_id"], "problem": r["problem"], "answer": r["gold"],
                  **{k: r[k] for k in SUBSET_FIELDS if k in r}} for r in sub]
        out += prediction_records(bench, items, [r["output"] for r in sub])
    return metrics(out)
