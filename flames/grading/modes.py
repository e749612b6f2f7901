"""Grading modes: whose conventions decide what counts as equal.

* ``flames`` (default): this project's choices (docs/grading.md, "Conventions").
* ``qwen``: parity with the Qwen2.5-Math evaluation's ``math_equal``, which the FLAMES
  paper used (``flames.grading.qwen``).
* ``math_verify``: plain math-verify, ``verify(parse("$gold$"), parse(prediction))``, for
  comparison with reports that use it.
"""

from __future__ import annotations

MODES = ("flames", "qwen", "math_verify")
DEFAULT_MODE = "flames"


def check_mode(mode: str) -> str:
    """``mode`` itself, or a ValueError that names the valid modes."""
    if mode not in MODES:
        raise ValueError(f"unknown grading mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode
