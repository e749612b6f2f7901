"""Taxonomy-Based Key Concepts (new in FLAMES): a topic path from a math taxonomy -> key concepts -> problem.

No seed problem: `prepare` samples the inputs, one topic path each, deterministically per
`agent.seed`. Two LLM steps (`concepts`, `problem`), shared with `key_concepts`.
The taxonomy FLAMES merged, its size and its sampling scheme are NOT FOUND; see taxonomy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flames.agents.key_concepts import ConceptsConfig, ConceptsThenProblem
from flames.agents.taxonomy import load_taxonomy, sample_paths
from flames.config import COUNT, SEED, num


@dataclass
class TaxonomyKeyConceptsConfig(ConceptsConfig):
    taxonomy: str = "ccssm+msc2020"  # builtin | ccssm | msc2020 | a JSON file | several joined by + (default: ours)
    taxonomy_dir: Optional[str] = None  # folder with ccssm/ and msc2020/ (for the real taxonomies)
    seed: int = num(0, SEED)  # topic sampling seed
    inputs_per_problem: int = num(4, COUNT)  # topics drawn per wanted problem (synthesize over-draws only by the observed yield)


class TaxonomyKeyConcepts(ConceptsThenProblem):
    name = "taxonomy_key_concepts"
    Config = TaxonomyKeyConceptsConfig

    def prepare(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """Topic inputs, as many as the seeded agents get seeds and at least `inputs_per_problem`
        per wanted problem, so the synthesize stage can over-draw as for seeds."""
        tree = load_taxonomy(self.cfg.taxonomy, self.cfg.taxonomy_dir)
        count = max(len(seeds), self.cfg.inputs_per_problem * self.cfg.num_problems)
        return [{"id": f"topic{i:06d}", "taxonomy_path": path, "seed_ids": [], "dataset": None}
                for i, path in enumerate(sample_paths(tree, count, self.cfg.seed))]

    def concepts_vars(self, topic: dict) -> dict:
        return {"topic": " > ".join(topic["taxonomy_path"])}
