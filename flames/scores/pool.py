"""Score a pool's problems: per-problem rows, plus the pool's diversity."""

from __future__ import annotations

import math
from typing import Iterable

from flames.scores.ngrams import diversity, grams, novelty_against_seed, novelty_against_set
from flames.scores.problems import AnswerKeys, problem_scores


def score_pool(problems: Iterable[dict], seeds: Iterable[dict], *, gold: bool = False,
               verdicts: dict[str, str] | None = None) -> tuple[list[dict], dict]:
    """(one score row per problem, in order; the pool's diversity).

    `problems` are solve rows with their samples merged (flames.views.merge_samples); `seeds` the seed set
    (novelty, topic and level); `gold`: the problems keep their seed's answer (difficulty against it);
    `verdicts`: a solvability judge's verdict per problem id, where one ran (added to its row as `judge`).
    """
    problems, seeds = list(problems), list(seeds)
    by_id = {s["id"]: s for s in seeds}
    keys = AnswerKeys()
    rows = [problem_scores(p, by_id, gold, keys) for p in problems]
    texts = [p["problem"] for p in problems]
    sh, lengths = grams(texts)
    first_seed = [next((by_id[i] for i in p.get("seed_ids") or [] if i in by_id), None) for p in problems]
    seed_sh, _ = grams([s["problem"] if s else "" for s in first_seed])
    set_sh, _ = grams([s["problem"] for s in seeds])
    own = novelty_against_seed(sh, seed_sh)
    whole = novelty_against_set(sh, set_sh)
    pool, dup_of = diversity(texts, sh)
    for i, row in enumerate(rows):
        row["problem_tokens"] = int(lengths[i])
        row["novelty_seed"] = None if math.isnan(own[i]) else round(float(own[i]), 4)
        row["novelty_seeds"] = round(float(whole[i]), 4)
        row["near_dup_of"] = None if dup_of[i] is None else problems[dup_of[i]]["id"]
        if verdicts and row["id"] in verdicts:
            row["judge"] = verdicts[row["id"]]
    return rows, pool
