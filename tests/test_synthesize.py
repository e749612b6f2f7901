"""The synthesize loop: per-dataset targets, over-generation until problem QC passes, resume."""

from __future__ import annotations

from flames.agents.base import Agent, ChunkResult
from flames.config import AgentConfig
from flames.jsonl import read_jsonl
from flames.llm import Sampling
from flames.qc import ProblemFilter
from flames.synthesize import dataset_targets, synthesize
from flames.views import in_view


class EchoAgent(Agent):
    """Writes one problem per seed from a script: seed id -> problem text (None = drop)."""

    name = "echo"

    def __init__(self, script):
        super().__init__(AgentConfig(name="echo"), None, Sampling())
        self.script, self.chunks = script, []

    def run_chunk(self, seeds):
        self.chunks.append([s["id"] for s in seeds])
        out = ChunkResult()
        for s in seeds:
            text = self.script(s)
            if text is None:
                self.drop(out, s, "unparseable")
            else:
                out.problems.append(self.problem_record(s, text))
        return out


def seeds(n_gsm, n_math):
    return ([{"id": f"g{i}", "dataset": "gsm8k", "problem": f"g{i}"} for i in range(n_gsm)]
            + [{"id": f"m{i}", "dataset": "math", "problem": f"m{i}"} for i in range(n_math)])


def unique(s):
    return f"How many apples does seed {s['id']} have?"


def test_targets_split_equally_and_hand_out_the_remainder():
    assert dataset_targets(seeds(3, 3), 5, None) == {"gsm8k": 3, "math": 2}
    assert dataset_targets(seeds(3, 3), 10, {"gsm8k": 3, "math": 1}) == {"gsm8k": 8, "math": 2}
    assert dataset_targets([{"id": "t"}], 4, None) == {"-": 4}  # seedless inputs: one pool
    assert dataset_targets([{"id": "t", "dataset": None}], 4, {"gsm8k": 0.5, "math": 0.5}) == {"-": 4}


def test_stops_at_the_target_per_dataset(tmp_path):
    agent = EchoAgent(unique)
    stats = synthesize(seeds(20, 20), agent, tmp_path, num_problems=6, chunk_size=4)
    rows = list(read_jsonl(tmp_path / "data.jsonl"))
    # A full chunk (2 per dataset), then 1 missing each at yield 1.0 (+20%): 2 more each.
    assert agent.chunks == [["g0", "g1", "m0", "m1"], ["g2", "g3", "m2", "m3"]]
    assert stats["accepted_by_dataset"] == {"gsm8k": 3, "math": 3} and stats["reached_target"]
    assert stats["held_by_dataset"] == {"gsm8k": 4, "math": 4}
    # The view of 6 holds the target per dataset; the problems past it stay in the pool (a later, larger view's).
    view = [r for r in rows if in_view(r, 6)]
    assert sorted(r["seed_dataset"] for r in view) == ["gsm8k"] * 3 + ["math"] * 3
    assert sorted(r["view_rank"] for r in rows) == list(range(8))
    assert not (tmp_path / "dropped.jsonl").exists()  # nothing generated is thrown away


def test_over_generates_past_qc_rejections_and_keeps_them_for_problem_qc(tmp_path):
    # Every GSM8K problem is the same text: only the first passes dedup, so GSM8K runs out of seeds.
    script = lambda s: "How many pens are there in all?" if s["dataset"] == "gsm8k" else unique(s)  # noqa: E731
    stats = synthesize(seeds(5, 10), EchoAgent(script), tmp_path, 4, chunk_size=4, gate=ProblemFilter())
    rows = list(read_jsonl(tmp_path / "data.jsonl"))
    assert stats["accepted_by_dataset"] == {"gsm8k": 1, "math": 2}
    assert sum(r["seed_dataset"] == "gsm8k" for r in rows) == 5  # duplicates written: problem_qc drops them


def test_decontaminated_problems_do_not_count(tmp_path):
    bench = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
    script = lambda s: bench if s["id"] == "m0" else unique(s)  # noqa: E731
    stats = synthesize(seeds(0, 5), EchoAgent(script), tmp_path, 2, chunk_size=2, gate=ProblemFilter([("bench", {"id": "b0", "problem": bench})]))
    # m0 was not counted: a second chunk ran (and its two problems are both in the pool)
    assert (stats["accepted"], stats["held"], stats["inputs_used"]) == (2, 3, 4)
    assert "view_rank" not in next(r for r in read_jsonl(tmp_path / "data.jsonl") if r["problem"] == bench)
    assert bench in [r["problem"] for r in read_jsonl(tmp_path / "data.jsonl")]  # problem_qc drops it


def test_a_resumed_run_readmits_what_is_written(tmp_path):
    synthesize(seeds(0, 10), EchoAgent(unique), tmp_path, 2, chunk_size=2, gate=ProblemFilter())
    agent = EchoAgent(unique)
    stats = synthesize(seeds(0, 10), agent, tmp_path, 3, chunk_size=2, gate=ProblemFilter())
    ids = [r["id"] for r in read_jsonl(tmp_path / "data.jsonl")]
    assert (stats["accepted"], stats["held"]) == (3, 4) and len(ids) == len(set(ids)) == 4  # a chunk of 2 for 1
    assert all(i not in ("m0", "m1") for chunk in agent.chunks for i in chunk)  # done seeds not rerun
