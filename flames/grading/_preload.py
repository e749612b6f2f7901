"""Import and warm up math-verify.

Named in the forkserver's preload list, so the forkserver pays the import (about 0.5 s)
and the first-call costs of sympy/ANTLR once, and every worker forked from it starts
warm. Replacing a worker killed on timeout then costs a fork, not a fresh interpreter.
"""

from __future__ import annotations

_WARM = False


def warm_up() -> None:
    """Run a few representative comparisons once per process."""
    global _WARM
    if _WARM:
        return
    from .equivalence import math_verify_equal

    for pred, gold in (("0.5", "\\frac{1}{2}"), ("(1,2]", "x^2+1"), ("\\{1,2\\}", "2\\sqrt{3}\\pi")):
        math_verify_equal(((pred, gold),), signal_timeout=None)
    _WARM = True


warm_up()
