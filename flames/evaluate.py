"""Stage `evaluate`: zero-shot CoT, greedy, \\boxed{} extraction, equivalence; predictions saved.

With `num_samples` k > 0 each item is also answered k times by sampling: its records carry `sample`
(0..k-1; greedy records have none) and the metrics add avg-of-k (pass@1 averaged over the k), maj@k
(the answer most samples agree on, by the grader's equivalence) and pass@k. Every rate comes with a
standard error and interval (`flames.stats`): the Wilson score interval for the rates of 0/1 per-item
verdicts (accuracy, maj@k, pass@k with its n = k samples), a bootstrap for avg-of-k (items, then each
item's samples), drawn with the settings saved in `stats.json` next to the predictions, so that
`regrade` reproduces every number.

Every prediction record carries its verdict and, when the grader audit is on, whether the fast
path and math-verify disagreed on it (`disagreement`, and `graders` with what each said). The
disagreements are also copied to `disagreements.jsonl` next to the predictions, so that a grader
question can be read without scanning every prediction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from flames.context import RetryPolicy
from flames.grading import DEFAULT_MODE, extract_answer, grade_batch
from flames.jsonl import read_jsonl
from flames.llm import LLM, PROMPT_TOO_LONG, Sampling, request_seed, usage
from flames.progress import stage_bar
from flames.stats import Interval, Settings, bootstrap, majority_vote, pass_at_k, wilson
from flames.store import RecordWriter

log = logging.getLogger(__name__)

# Subset fields of prediction files written before `subsets` was a record field.
LEGACY_SUBSETS = ("level", "type", "perturbation_type", "subfield", "data_topic")
DISAGREEMENTS = "disagreements.jsonl"
STATS = "stats.json"  # the interval settings the metrics were drawn with (flames.stats.Settings)


def evaluate(suite: dict[str, list[dict]], out_dir: Path, llm: LLM, sampling: Sampling, prompt: str,
             chunk_size: int = 256, subsets: dict[str, list[str]] | None = None, audit: bool = True,
             samples: Sampling | None = None, settings: Settings = Settings(), mode: str = DEFAULT_MODE,
             retry: RetryPolicy | None = None) -> dict:
    """Answer every item of every benchmark; predictions go to out_dir/data.jsonl (resumable).

    `sampling` is the greedy pass; `samples` (its `n` = k), when given, the sampled one; `mode` the grading
    mode (flames.grading.MODES), recorded in every prediction.
    """
    writer = RecordWriter(out_dir, retry)
    greedy = {name: [it for it in items if f"{name}/{it['id']}" not in writer.done_ids]
              for name, items in suite.items()}
    sampled = {name: [it for it in items if sample_id(name, it["id"], samples.n - 1) not in writer.done_ids]
               for name, items in suite.items()} if samples else {}
    total = sum(map(len, suite.values())) * (2 if samples else 1)  # items of the greedy pass, then the sampled one
    todo = sum(map(len, greedy.values())) + sum(map(len, sampled.values()))
    with stage_bar("evaluate", total, total - todo, "item") as bar:
        for name in suite:
            fields = (subsets or {}).get(name, ())
            for chunk in _chunks(greedy[name], chunk_size, f"evaluate[{name}]"):
                gens = llm.chat(_conversations(chunk, prompt), sampling)
                writer.log_call(step=name, **usage(gens))
                writer.write(prediction_records(name, chunk, [g.texts[0] for g in gens], fields, audit,
                                                [g.is_truncated() for g in gens], mode=mode,
                                                errors=[g.error for g in gens]))
                bar.update(len(chunk))
            for chunk in _chunks(sampled.get(name, []), chunk_size, f"evaluate[{name}] sampled"):
                # Seeded by item, not by batch position: a resumed run asks for the same samples.
                gens = llm.chat(_conversations(chunk, prompt), samples,
                                seeds=[request_seed(samples.seed, name, it["id"]) for it in chunk])
                writer.log_call(step=f"{name}/samples", **usage(gens))
                writer.write(sampled_records(name, chunk, gens, fields, audit, mode))
                bar.update(len(chunk))
    (out_dir / STATS).write_text(json.dumps(asdict(settings)))
    predictions = list(read_jsonl(out_dir / "data.jsonl"))
    write_disagreements(out_dir / DISAGREEMENTS, predictions)
    return metrics(predictions, settings)


def _chunks(todo: list[dict], size: int, what: str):
    for start in range(0, len(todo), size):
        log.info("%s: %d-%d of %d", what, start, min(start + size, len(todo)), len(todo))
        yield todo[start:start + size]


def _conversations(items: list[dict], prompt: str) -> list[list[dict]]:
    return [[{"role": "user", "content": f"{it['problem']}\n{prompt}"}] for it in items]


def sample_id(benchmark: str, item_id: str, sample: int) -> str:
    """A sampled record's id: the greedy record's, then #<sample>."""
    return f"{benchmark}/{item_id}#{sample}"


def prediction_records(benchmark: str, items: list[dict], outputs: list[str], subsets=(), audit: bool = True,
                       truncated: list[bool] | None = None, samples: list[int] | None = None,
                       mode: str = DEFAULT_MODE, errors: list[str | None] | None = None) -> list[dict]:
    """One graded record per item: the raw output (and whether it hit the token limit), the answer, the verdict.

    With `samples`, record i is sample samples[i] of its item (id `sample_id`, field `sample`). An item
    whose request was not sent (`errors[i]`: prompt_too_long) keeps its place: an empty output, graded wrong.
    """
    truncated = truncated or [False] * len(items)
    errors = errors or [None] * len(items)
    records = []
    for i, (it, out, cut) in enumerate(zip(items, outputs, truncated)):
        r = {"id": f"{benchmark}/{it['id']}", "benchmark": benchmark, "item_id": it["id"], "problem": it["problem"],
             "gold": str(it["answer"]), "output": out, "truncated": cut,
             "subsets": {f: it[f] for f in subsets if it.get(f) is not None}}
        if errors[i]:
            r["error"] = errors[i]
        if samples is not None:
            r.update(id=sample_id(benchmark, it["id"], samples[i]), sample=samples[i])
        records.append(r)
    return grade_records(records, audit, mode)


def sampled_records(benchmark: str, items: list[dict], gens: list, subsets=(), audit: bool = True,
                    mode: str = DEFAULT_MODE) -> list[dict]:
    """The k sampled answers of each item, as k graded records each."""
    flat = [(it, g.texts[j], g.is_truncated(j), j, g.error) for it, g in zip(items, gens) for j in range(len(g.texts))]
    return prediction_records(benchmark, [f[0] for f in flat], [f[1] for f in flat], subsets, audit,
                              [f[2] for f in flat], [f[3] for f in flat], mode, [f[4] for f in flat])


def grade_records(records: list[dict], audit: bool = True, mode: str = DEFAULT_MODE) -> list[dict]:
    """(Re)compute pred and verdict fields from each record's output and gold, in a grading mode.

    The grader audit (fast path vs math-verify) belongs to the flames mode; other modes grade one way.
    """
    audit = audit and mode == DEFAULT_MODE
    preds = [extract_answer(r["output"], mode=mode) for r in records]
    verdicts = grade_batch(preds, [r["gold"] for r in records], audit=audit, mode=mode)
    out = []
    for r, pred, v in zip(records, preds, verdicts):
        r = {k: x for k, x in r.items() if k != "graders"}
        r.update(pred=pred, correct=v.equivalent, method=v.method, timed_out=v.timed_out, audit=audit,
                 disagreement=v.disagreement, grading_mode=mode)
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


def metrics(predictions, settings: Settings = Settings()) -> dict:
    """Per benchmark and per subset: the greedy accuracy with its interval; unparseable answers, outputs
    cut by the token limit, grader timeouts, grader disagreements; with samples, avg-of-k, maj@k, pass@k."""
    predictions = list(predictions)
    greedy, sampled = defaultdict(list), defaultdict(lambda: defaultdict(list))
    for p in predictions:
        for k in _groups(p):
            if p.get("sample") is None:
                greedy[k].append(p)
            else:
                sampled[k][p["item_id"]].append(p)
    votes = majority_verdicts(predictions)
    out = {k: greedy_metrics(greedy[k], settings) for k in sorted(greedy)}
    for k, items in sampled.items():
        out.setdefault(k, {}).update(sampled_metrics(items, votes, settings))
    return out


def _groups(p: dict) -> list[str]:
    """The metric rows a record counts in: its benchmark, and one per subset field (`math/level=3`)."""
    subsets = p.get("subsets")
    if subsets is None:
        subsets = {f: p[f] for f in LEGACY_SUBSETS if p.get(f) is not None}
    return [p["benchmark"]] + [f"{p['benchmark']}/{f}={v}" for f, v in subsets.items()]


def greedy_metrics(rows: list[dict], settings: Settings) -> dict:
    """The counts and accuracy of one row of the table (as before intervals), then the interval fields
    (Wilson's: the verdicts are 0/1, so the accuracy is a binomial proportion)."""
    m = {"n": len(rows), "correct": sum(bool(p["correct"]) for p in rows),
         "unparseable": sum(p["pred"] is None for p in rows), "truncated": sum(bool(p.get("truncated")) for p in rows),
         "timeouts": sum(bool(p["timed_out"]) for p in rows), "disagreements": sum(bool(p.get("disagreement"))
                                                                                  for p in rows),
         "prompt_too_long": sum(p.get("error") == PROMPT_TOO_LONG for p in rows)}  # not sent: counted wrong
    m["accuracy"] = round(100 * m["correct"] / m["n"], 2)
    ci = wilson(m["correct"], m["n"], settings.confidence).percent("accuracy")
    ci["ci_level"] = round(100 * settings.confidence, 2)  # the level of every interval of this row
    return {**m, **{k: v for k, v in ci.items() if k != "accuracy"}}


def sampled_metrics(items: dict[str, list[dict]], votes: dict[str, bool], settings: Settings) -> dict:
    """avg-of-k (bootstrap over items and samples), maj@k and pass@k (Wilson: 0/1 per item), k and sample
    counts."""
    k = min(len(rs) for rs in items.values())  # every item has its k: they are written together
    rows = list(items.values())
    rates = [sum(bool(r["correct"]) for r in rs) / len(rs) for rs in rows]
    maj = [float(votes[rs[0]["benchmark"] + "/" + str(rs[0]["item_id"])]) for rs in rows]
    passed = [pass_at_k(len(rs), sum(bool(r["correct"]) for r in rs), k) for rs in rows]
    flat = [r for rs in rows for r in rs]
    return {"k": k, "sampled_n": len(flat), "sampled_unparseable": sum(r["pred"] is None for r in flat),
            "sampled_truncated": sum(bool(r.get("truncated")) for r in flat),
            **bootstrap(rates, [len(rs) for rs in rows], settings).percent("avg_of_k"),
            **per_item_rate(maj, settings).percent("maj_at_k"), **per_item_rate(passed, settings).percent("pass_at_k")}


def per_item_rate(scores: list[float], settings: Settings) -> Interval:
    """The mean of one score per item: Wilson's interval when every score is 0 or 1 (a proportion; maj@k, and
    pass@k with n = k samples), else the percentile bootstrap over items (pass@k of an item with more than k)."""
    if all(s in (0.0, 1.0) for s in scores):
        return wilson(int(sum(scores)), len(scores), settings.confidence)
    return bootstrap(scores, settings=settings)


def majority_verdicts(predictions: list[dict]) -> dict[str, bool]:
    """`benchmark/item_id` -> whether the majority of its sampled answers is correct (maj@k).

    Answers are grouped by the grader's equivalence: every pair of distinct answers of an item is
    graded (one grade_batch call for all items), the later answer as the prediction, the earlier as gold.
    """
    by_item: dict[str, list[dict]] = defaultdict(list)
    for p in predictions:
        if p.get("sample") is not None:
            by_item[f"{p['benchmark']}/{p['item_id']}"].append(p)
    pairs = []
    for rs in by_item.values():
        distinct = list(dict.fromkeys(r["pred"] for r in rs if r["pred"] is not None))
        pairs += [(distinct[j], distinct[i]) for j in range(len(distinct)) for i in range(j)]
    pairs = list(dict.fromkeys(pairs))
    mode = next((p.get("grading_mode") for p in predictions if p.get("grading_mode")), DEFAULT_MODE)
    verdicts = grade_batch([p for p, _ in pairs], [g for _, g in pairs], mode=mode) if pairs else []
    same_pair = {pair: v.equivalent for pair, v in zip(pairs, verdicts)}
    votes = {}
    for key, rs in by_item.items():
        rs = sorted(rs, key=lambda r: r["sample"])
        win = majority_vote([r["pred"] for r in rs], lambda a, b: a == b or same_pair[(a, b)])
        votes[key] = win is not None and bool(rs[win]["correct"])
    return votes


def settings_of(predictions: Path) -> Settings:
    """The interval settings saved next to a predictions file (the defaults for files from before them)."""
    path = Path(predictions).parent / STATS
    return Settings(**json.loads(path.read_text())) if path.exists() else Settings()


def regrade(predictions: Path, audit: bool | None = None, settings: Settings | None = None,
            mode: str | None = None) -> dict:
    """Grade a saved predictions file again, offline, from its raw outputs.

    `audit=None` audits as the file was graded (its records say), so that the disagreement
    counts are reproduced too; `settings=None` draws the intervals as the run did (its stats.json);
    `mode=None` grades in the mode the file was graded in (another mode: what that grader would report).
    """
    rows = list(read_jsonl(predictions))
    if audit is None:
        audit = any(r.get("audit") for r in rows)
    if mode is None:
        mode = next((r["grading_mode"] for r in rows if r.get("grading_mode")), DEFAULT_MODE)
    return metrics(grade_records(rows, audit, mode), settings or settings_of(predictions))


def item_scores(predictions: Path, metric: str = "accuracy") -> dict[str, dict[str, float]]:
    """benchmark -> item id -> its score, from a predictions file: for paired comparisons (flames.stats).

    `accuracy`: the greedy verdict (1/0); `avg_of_k`: the share of its samples correct; `maj_at_k`: 1/0.
    """
    rows = list(read_jsonl(predictions))
    out: dict[str, dict[str, float]] = defaultdict(dict)
    if metric == "accuracy":
        for r in rows:
            if r.get("sample") is None:
                out[r["benchmark"]][str(r["item_id"])] = float(bool(r["correct"]))
        return dict(out)
    if metric == "maj_at_k":
        for key, ok in majority_verdicts(rows).items():
            bench, item = key.split("/", 1)
            out[bench][item] = float(ok)
        return dict(out)
    if metric != "avg_of_k":
        raise ValueError(f"item_scores: metric is accuracy, avg_of_k or maj_at_k, not {metric!r}")
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.get("sample") is not None:
            c = counts[(r["benchmark"], str(r["item_id"]))]
            c[0] += bool(r["correct"])
            c[1] += 1
    for (bench, item), (c, n) in counts.items():
        out[bench][item] = c / n
    return dict(out)
