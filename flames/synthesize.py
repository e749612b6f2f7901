"""Stage `synthesize`: seeds -> problems, with one agent and the problem model.

The stage over-generates: it keeps drawing inputs until `num_problems` problems would survive
problem QC (dedup + decontamination, checked as they arrive), split across seed datasets by
`shares` (GSM8K:MATH 50:50 by default, as in the paper). Candidates that QC will reject stay in
data.jsonl so that problem_qc drops them with its reasons. Every accepted problem is stamped with its
`view_rank` (flames.views): a run that asks for N problems reads those ranked below N, so accepted problems
past the target stay in the pool for a later, larger run instead of being thrown away.

The artifact is a pool (keyed without `num_problems`): a later run that asks for more continues it where it
stopped (same inputs, same request seeds), so a grown pool's first records are the smaller run's.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Callable, Protocol

from flames.agents.base import Agent, work_id  # noqa: F401  (work_id: also flames.synthesize's)
from flames.context import RetryPolicy
from flames.jsonl import read_jsonl
from flames.progress import stage_bar
from flames.store import RETRYABLE, RecordWriter
from flames.store.shards import chunk_done, fold, my_chunks, tagged
from flames.views import RANK, ViewOrder

log = logging.getLogger(__name__)


class Gate(Protocol):
    """Problem QC as problems arrive (`flames.qc.ProblemFilter`, passed in by the synthesize stage)."""

    def admit(self, texts: list[str]) -> list[bool]:
        """True where the text passes problem QC given all texts admitted before."""



class AdmitAll:
    """The gate when problem QC is not applied while synthesizing."""

    def admit(self, texts: list[str]) -> list[bool]:
        return [True] * len(texts)


def synthesize(seeds: list[dict], agent: Agent, out_dir: Path, num_problems: int, chunk_size: int = 64,
               gate: Gate | None = None, shares: dict[str, float] | None = None, max_draws: int = 1,
               retry: RetryPolicy | None = None, shards: list[Path] = ()) -> dict:
    """Run `agent` over its inputs, chunk by chunk, until `num_problems` problems pass `gate`.

    Inputs are drawn in passes: every input once (draw 0), then every input again (draw 1), ...,
    up to `max_draws` passes, so a target larger than the seed set is reached with several problems
    per seed. A drawn input carries `draw`; the agent's request seeds and problem ids include it.
    Resumable and growable: work items already processed (progress.jsonl) are skipped and problems
    already written are re-admitted, so a killed run, or a run asking for more, continues where the
    last one stopped, with the same seeds. Accepted problems carry `view_rank` (flames.views).
    """
    writer = RecordWriter(out_dir, retry)  # retry: which failed rows of an earlier run to redo (flames.context)
    agent.log_call = writer.log_call
    inputs = agent.prepare(seeds, out_dir / "agent")
    gate = gate or AdmitAll()
    order = view_order(inputs, shares)
    targets = order.targets(num_problems)
    accepted = _readmit(writer, gate)
    if shards:  # a sharded round's problems (flames.store.shards), in plan order, through the same gate
        fold(shards, writer, lambda rows: _rank([r for r in rows if r["id"] not in writer.done_ids], gate, order,
                                                accepted))
        writer = RecordWriter(out_dir, retry)  # reopened: the shards' failed requests are retried as an earlier run's
        agent.log_call = writer.log_call
    dataset_of = {i["id"]: _dataset(i) for i in inputs}
    used = Counter(dataset_of.get(split_work(w)[0]) for w in writer.inputs_done)
    def toward() -> int:  # problems accepted toward this run's targets: the stage bar's count
        return sum(min(accepted[d], t) for d, t in targets.items())

    with stage_bar(f"synthesize[{agent.name}]", sum(targets.values()), toward(), "problem") as bar:
        def run(chunk: list[dict]) -> None:
            _run_chunk(agent, chunk, gate, writer, order, accepted)
            bar.advance_to(toward())

        retry = _retry_items(inputs, writer.retry_units)
        for first in range(0, len(retry), chunk_size):  # failed inputs of earlier runs first, whatever the target
            run(retry[first:first + chunk_size])
        attempted = Either(writer.inputs_done, writer.failed_units)  # a failed input is redone only as a retry
        pending = {d: Draws([i for i in inputs if _dataset(i) == d], max_draws, attempted,
                            lambda d=d: accepted[d]) for d in targets}
        while chunk := _next_chunk(pending, targets, accepted, used, chunk_size):
            run(chunk)
            used.update(_dataset(i) for i in chunk)
            log.info("synthesize[%s]: %s accepted of %d targeted, from %d inputs", agent.name,
                     _fmt(accepted, targets), num_problems, sum(used.values()))
    short = {d: f"{accepted[d]}/{t}" for d, t in targets.items() if accepted[d] < t}
    if short:
        log.warning("synthesize[%s]: inputs ran out before the target after %d draws per input: %s "
                    "(raise agent.max_draws)", agent.name, max_draws, short)
    in_view = {d: min(accepted[d], t) for d, t in targets.items()}  # toward this run's target
    held = sum(accepted.values())  # the pool's, past the target too
    return {"target": num_problems, "accepted": sum(in_view.values()), "reached_target": not short,
            "held": held, "inputs_used": sum(used.values()),
            "draws": max((split_work(w)[1] for w in writer.inputs_done), default=0) + 1,  # passes begun
            "targets_by_dataset": targets, "accepted_by_dataset": in_view, "held_by_dataset": dict(accepted),
            "problems_per_input": round(held / max(sum(used.values()), 1), 4)}


def _run_chunk(agent: Agent, chunk: list[dict], gate: Gate, writer: RecordWriter, order: ViewOrder,
               accepted: Counter) -> None:
    """One batched run of the agent: its problems written (accepted ones ranked), drops recorded, and its inputs
    marked done, but for those with a failed request (RETRYABLE): a later run retries them."""
    result = agent.run_chunk(chunk)
    _record(writer, chunk, _rank(result.problems, gate, order, accepted), result.drops)


def _rank(problems: list[dict], gate: Gate, order: ViewOrder, accepted: Counter) -> list[dict]:
    """The problems, those that pass `gate` stamped with their view rank (counted in `accepted`); rejected
    candidates too: problem_qc drops them with reasons. Past the target too: a larger view takes them later."""
    out = []
    for problem, ok in zip(problems, gate.admit([p["problem"] for p in problems])):
        d = _dataset_of_problem(problem)
        if ok:
            problem = {**problem, RANK: order.position(d, accepted[d])}
            accepted[d] += 1
        out.append(problem)
    return out


def _record(writer: RecordWriter, chunk: list[dict], problems: list[dict], drops: list) -> None:
    """A chunk's problems and drops written, then its inputs marked done but for those with a failed request."""
    writer.write(problems)  # one fsync'd append per chunk, before the chunk is marked done
    for reason in dict.fromkeys(r for _, r in drops):
        writer.drop([rec for rec, r in drops if r == reason], reason)
    failed = {rec["input"] for rec, r in drops if r in RETRYABLE and "input" in rec}
    writer.mark_done(work_id(i) for i in chunk if work_id(i) not in failed)


def plan_chunks(inputs: list[dict], num_problems: int, shares: dict[str, float] | None, max_draws: int,
                pool: Path | None, chunk_size: int, margin: float) -> list[list[dict]]:
    """A sharded round's work: per dataset, the next work items (draw by draw, as `Draws` takes them) that the pool
    has not done, as many as its missing problems at the yield observed so far (1 for a new pool) times `margin`;
    cut into chunks. What the round misses (a lower yield, QC drops) the fold's own run makes up."""
    targets = view_order(inputs, shares).targets(num_problems)
    rows = list(read_jsonl(pool / "data.jsonl")) if pool else []
    done = {r["id"] for r in read_jsonl(pool / "progress.jsonl")} if pool and (pool / "progress.jsonl").exists() \
        else set()
    accepted = Counter(_dataset_of_problem(r) for r in rows if RANK in r)
    dataset_of = {i["id"]: _dataset(i) for i in inputs}
    used = Counter(dataset_of.get(split_work(w)[0]) for w in done)
    chunks: list[list[dict]] = []
    for d, target in targets.items():
        missing = target - accepted[d]
        if missing <= 0:
            continue
        rate = accepted[d] / used[d] if used[d] and accepted[d] else 1.0
        want = math.ceil(missing / rate * margin)
        mine = [i for i in inputs if _dataset(i) == d]
        items = [item for draw in range(max_draws) for item in (({**i, "draw": draw} if draw else i) for i in mine)
                 if work_id(item) not in done][:want]
        chunks += [items[k:k + chunk_size] for k in range(0, len(items), chunk_size)]
    return chunks


def synthesize_shard(agent: Agent, chunks: list[list[dict]], part: Path, index: int, count: int,
                     retry: RetryPolicy | None = None) -> dict:
    """Shard `index` of `count` of a round: its chunks of the plan, every problem written (QC and ranks are the
    fold's, in plan order), records tagged with their chunk; resumable chunk by chunk."""
    writer = RecordWriter(part, retry)
    agent.log_call = writer.log_call
    todo = my_chunks(len(chunks), index, count, part)
    with stage_bar(f"synthesize[{agent.name}] shard {index}/{count}", sum(len(chunks[c]) for c in todo),
                   unit="input") as bar:
        for n, c in enumerate(todo):
            result = agent.run_chunk(chunks[c])
            _record(writer, chunks[c], tagged(result.problems, c), result.drops)  # a failed input: the fold's run
            chunk_done(part, c)
            bar.update(len(chunks[c]))
            log.info("synthesize[%s] shard %d/%d: chunk %d of %d done", agent.name, index, count, n + 1, len(todo))
    return {"chunks": len(todo), **writer.stats()}


def _retry_items(inputs: list[dict], units: set[str]) -> list[dict]:
    """The work items of failed inputs to retry (work ids), in input order, draw by draw."""
    wanted = sorted((split_work(u)[1], u) for u in units)
    position = {i["id"]: n for n, i in enumerate(inputs)}
    items = [(draw, position[split_work(u)[0]]) for draw, u in wanted if split_work(u)[0] in position]
    return [{**inputs[n], "draw": draw} if draw else inputs[n] for draw, n in sorted(items)]


class Either:
    """Membership in either of two sets (both kept live: the writer adds to its own as inputs are done)."""

    def __init__(self, a: set, b: set):
        self.a, self.b = a, b

    def __contains__(self, item: object) -> bool:
        return item in self.a or item in self.b


def view_order(inputs: list[dict], shares: dict[str, float] | None) -> ViewOrder:
    """The view order over the input datasets present, by `shares` (normalized), else equal shares."""
    return ViewOrder({_dataset(i) for i in inputs}, shares)


def dataset_targets(inputs: list[dict], num_problems: int, shares: dict[str, float] | None) -> dict[str, int]:
    """Problems wanted from each input dataset: its share of the first `num_problems` of the view order."""
    return view_order(inputs, shares).targets(num_problems)


def split_work(work: str) -> tuple[str, int]:
    """(input id, draw) of a work id (work_id's inverse)."""
    head, sep, tail = work.rpartition("@")
    return (head, int(tail)) if sep and tail.isdigit() else (work, 0)


class Draws:
    """The work items of one dataset not yet done: each input once per pass, at most `max_draws` passes.

    A chunk never spans two passes, and a pass that added no accepted problem (`accepted()` did not
    grow) is the last: more passes of an agent whose draws all repeat or fail would add nothing.
    """

    def __init__(self, inputs: list[dict], max_draws: int, done: set[str], accepted: Callable[[], int]):
        self.inputs, self.max_draws, self.done, self.accepted = inputs, max_draws, done, accepted
        self.draw, self._next = 0, 0  # position: the pass, and the input within it
        self._taken, self._pass_start = 0, 0  # items this run took in this pass; accepted() at its first

    def take(self, n: int) -> list[dict]:
        out: list[dict] = []
        while len(out) < n and self.draw < self.max_draws and self.inputs:
            if self._next == len(self.inputs):
                if out:
                    break  # a chunk never spans two passes: the next take judges this one
                self._end_pass()
                continue
            item = self.inputs[self._next]
            item = {**item, "draw": self.draw} if self.draw else item
            if work_id(item) not in self.done:
                if not self._taken:
                    self._pass_start = self.accepted()
                self._taken += 1
                out.append(item)
            self._next += 1
        return out

    def _end_pass(self) -> None:
        """Called once the pass's last chunk is processed; a resumed run's finished passes do not count."""
        fruitless = self._taken and self.accepted() == self._pass_start
        self.draw = self.max_draws if fruitless else self.draw + 1
        self._next, self._taken = 0, 0


def _next_chunk(pending: dict[str, Draws], targets, accepted, used, chunk_size) -> list[dict]:
    """Work items for the next batched run: from each dataset still under target, as many as its yield says."""
    chunk = []
    for d, target in targets.items():
        missing = target - accepted[d]
        if missing <= 0:
            continue
        chunk += pending[d].take(_inputs_needed(missing, accepted[d], used[d], max(1, chunk_size // len(targets))))
    return chunk


def _inputs_needed(missing: int, accepted: int, used: int, chunk_size: int) -> int:
    """A full chunk first; then as many inputs as the observed yield says are missing (+20%)."""
    if used == 0 or accepted == 0:
        return chunk_size
    return max(1, min(chunk_size, math.ceil(missing / (accepted / used) * 1.2)))


def _readmit(writer: RecordWriter, gate: Gate) -> Counter:
    """Problems a previous (killed) run wrote: pass them through the gate again, in order."""
    rows = list(read_jsonl(writer.data_path))
    accepted = Counter()
    for row, ok in zip(rows, gate.admit([r["problem"] for r in rows]) if rows else []):
        accepted[_dataset_of_problem(row)] += ok
    return accepted


def _dataset(item: dict) -> str:
    return item.get("dataset") or "-"


def _dataset_of_problem(problem: dict) -> str:
    return problem.get("seed_dataset") or "-"


def _fmt(accepted: Counter, targets: dict) -> str:
    return ", ".join(f"{d} {accepted[d]}/{t}" for d, t in targets.items())
