"""flames.grading: the one place answers are extracted and compared.

    extract_answer(text, mode=...)        -> final answer or None
    answer_key(answer)                    -> normalized string for grouping (majority voting)
    is_equivalent(pred, gold, mode=...)   -> bool, in this process
    grade_batch(preds, golds, mode=...)   -> [Verdict], worker processes with a hard timeout
    audit_modes(rows, modes=MODES)        -> the predictions the grading modes disagree on

MODES lists the grading modes: "flames" (default), "qwen" (Qwen2.5-Math evaluation
parity, the paper's grader) and "math_verify" (plain math-verify).

math-verify is imported lazily (first comparison that needs it), so importing this
package is cheap. See docs/grading.md.
"""

from .audit import audit_modes
from .batch import grade_batch
from .cleanup import clean_answer
from .equivalence import Verdict, is_equivalent
from .extract import extract_answer
from .modes import DEFAULT_MODE, MODES
from .normalize import answer_key
from .pool import shutdown_pool

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "Verdict",
    "answer_key",
    "audit_modes",
    "clean_answer",
    "extract_answer",
    "grade_batch",
    "is_equivalent",
    "shutdown_pool",
]
