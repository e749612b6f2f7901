"""A MathScale-style concept pool for `key_concepts`: concepts of seed problems as a co-occurrence graph,
and concept sets sampled from it by a random walk.

MathScale (Tang et al. 2024, arXiv 2403.02884) extracts topics and knowledge points from every seed
question, joins two concepts by an edge weighted by how often they occur in the same question, and
samples a concept composition by a random walk on that graph; the LLM then writes a problem that
tests the sampled concepts. Here one flat list of concepts per seed (no topic / knowledge-point
split), and this walk (ours where MathScale's details differ or are not known):
- start: a seed drawn uniformly, then one of its concepts (so the start follows the seed mix);
- step: from the last concept, a neighbour drawn with probability proportional to the co-occurrence
  count, not already in the set (a few tries); the seed is drawn among those that hold both;
- dead end (no new neighbour of the last concept): a step from an earlier concept of the set
  (latest first), so the set stays connected; if none has a new neighbour, a fresh start, which
  joins concepts no seed had together.
Two concepts are the same node when they match after lower-casing and collapsing spaces. Every step
is drawn from one `random.Random(seed)`, so a pool and a seed give the same sets in the same order.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from dataclasses import dataclass, field


def concept_key(concept: str) -> str:
    return re.sub(r"\s+", " ", concept.strip().lower())


@dataclass
class ConceptPool:
    """The concepts of some seeds: nodes, co-occurrence edges, and which seeds hold each edge."""

    seeds: list[tuple[str, list[str]]] = field(default_factory=list)  # (seed id, concept keys), in input order
    names: dict[str, str] = field(default_factory=dict)  # key -> the concept as first written
    # key -> (neighbour keys, cumulative co-occurrence counts) for a weighted draw by bisection
    _neighbours: dict[str, tuple[list[str], list[int]]] = field(default_factory=dict)
    _edge_seeds: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, concepts_by_seed: list[tuple[str, list[str]]]) -> "ConceptPool":
        pool, counts = cls(), {}
        for seed_id, concepts in concepts_by_seed:
            keys = list(dict.fromkeys(concept_key(c) for c in concepts if concept_key(c)))
            if not keys:
                continue
            for c in concepts:
                pool.names.setdefault(concept_key(c), c.strip())
            pool.seeds.append((seed_id, keys))
            for a, b in itertools.permutations(keys, 2):
                counts.setdefault(a, {}).setdefault(b, 0)
                counts[a][b] += 1
                pool._edge_seeds.setdefault((a, b), []).append(seed_id)
        for a, row in counts.items():
            keys = sorted(row)  # a fixed order: the draw depends only on the pool and the seed
            pool._neighbours[a] = (keys, list(itertools.accumulate(row[k] for k in keys)))
        return pool

    def __len__(self) -> int:
        return len(self.names)

    def sample(self, size: int, rng: random.Random, tries: int = 8) -> tuple[list[str], list[str]]:
        """One concept set of up to `size` distinct concepts: (concepts as written, the seeds they came from)."""
        if not self.seeds:
            raise ValueError("the concept pool is empty: no seed gave a concept")
        chosen: list[str] = []
        seed_ids: list[str] = []
        for _ in range(size * tries):
            if len(chosen) >= min(size, len(self.names)):
                break
            # from the last concept; at a dead end, from the earlier ones (latest first)
            step = next((found for c in reversed(chosen) if (found := self._step(c, chosen, rng, tries))), None)
            if step is None:  # the start, or a dead end: a fresh start from a random seed
                seed_id, keys = self.seeds[rng.randrange(len(self.seeds))]
                fresh = [k for k in keys if k not in chosen]
                if not fresh:
                    continue
                step = (fresh[rng.randrange(len(fresh))], seed_id)
            chosen.append(step[0])
            seed_ids.append(step[1])
        return [self.names[k] for k in chosen], list(dict.fromkeys(seed_ids))

    def _step(self, last: str, chosen: list[str], rng: random.Random, tries: int) -> tuple[str, str] | None:
        keys, cumulative = self._neighbours.get(last, ([], []))
        for _ in range(tries if keys else 0):
            nxt = keys[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
            if nxt not in chosen:
                holders = self._edge_seeds[(last, nxt)]
                return nxt, holders[rng.randrange(len(holders))]
        return None
