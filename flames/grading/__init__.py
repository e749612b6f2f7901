"""flames.grading: the one place answers are extracted and compared.

    extract_answer(text)        -> cleaned final answer or None
    answer_key(answer)          -> normalized string for grouping (majority voting)
    is_equivalent(pred, gold)   -> bool, in this process
    grade_batch(preds, golds)   -> [Verdict], worker processes with a hard timeout

math-verify is imported lazily (first comparison that needs it), so importing this
package is cheap. See docs/grading.md.
"""

from .batch import grade_batch
from .equivalence import Verdict, is_equivalent
from .extract import extract_answer
from .normalize import answer_key, clean_answer
from .pool import shutdown_pool

__all__ = [
    "Verdict",
    "answer_key",
    "clean_answer",
    "extract_answer",
    "grade_batch",
    "is_equivalent",
    "shutdown_pool",
]
