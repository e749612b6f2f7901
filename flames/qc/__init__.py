"""Quality control: problem dedup and decontamination, solution selection.

Problem level (pure functions over lists of texts):
- ``find_duplicates``: exact dedup on normalized text (the paper) or MinHash-LSH
  near-duplicates verified by exact Jaccard;
- ``find_contamination``: benchmark overlap, the FLAMES 95%-of-8-grams rule, that rule
  plus near copies up to a few word edits (the pipeline default), or any shared 13-gram,
  over a cacheable ``NgramIndex``.
``ProblemFilter`` applies both, incrementally, for the synthesize and problem_qc stages alike.
Solution level: ``Strategy`` objects (conf/qc/ names one by ``_target_``); ``select`` applies
first / majority / majority_first / strict to the answers of one problem's sampled solutions; the
solvability strategies (``solvability``) use an LLM judge (``judge``) and a reward model (``reward``);
``subsample_fixed_size`` draws the equal-size subsamples of the paper's comparison.
See docs/qc.md.
"""

from .decontam import DEFAULT_STOPLIST, MODES, NgramIndex, Stoplist, find_contamination
from .dedup import find_duplicates, lsh_params
from .normalize import normalize_text, tokenize
from .problems import ProblemFilter, Verdict
from .solution import (
    STRATEGIES,
    AnswerStrategy,
    Decision,
    Strategy,
    cluster_answers,
    select,
    subsample_fixed_size,
)

__all__ = [
    "DEFAULT_STOPLIST",
    "MODES",
    "STRATEGIES",
    "AnswerStrategy",
    "Decision",
    "NgramIndex",
    "ProblemFilter",
    "Strategy",
    "Verdict",
    "Stoplist",
    "cluster_answers",
    "find_contamination",
    "find_duplicates",
    "fits_context",
    "lsh_params",
    "normalize_text",
    "select",
    "subsample_fixed_size",
    "tokenize",
]


def fits_context(prompt_tokens: int, solution_tokens: int, max_length: int) -> bool:
    """Does a (prompt, solution) pair fit a training context of `max_length` tokens?"""
    return prompt_tokens + solution_tokens <= max_length
