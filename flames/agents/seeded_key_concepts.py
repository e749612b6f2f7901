"""Seeded Key Concepts: the key concepts of a seed problem, then a new problem built on them. Two steps.

Step `extract` reads the seed problem and lists its concepts; step `problem` sees only the
concepts (not the seed), so the new problem shares the seed's mathematics, not its wording.
"""

from __future__ import annotations

from flames.agents.key_concepts import ConceptsConfig, ConceptsThenProblem


class SeededKeyConcepts(ConceptsThenProblem):
    name = "seeded_key_concepts"
    Config = ConceptsConfig
    concepts_step = "extract"

    def concepts_vars(self, seed: dict) -> dict:
        return {"problem": seed["problem"]}

    def intermediate(self, item: dict) -> dict:
        return {"concepts": item["concepts"]}  # the seed text is already in the seed file
