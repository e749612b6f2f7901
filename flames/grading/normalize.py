"""The normalized key used by the fast string path, and the exact value of a numeric key.

Two levels:

* :func:`~flames.grading.cleanup.clean_answer` (re-exported here) removes presentation
  only (math delimiters, units, ``\\!``, ``\\left``/``\\right``, degrees, thousands
  separators, trailing periods). Its output is still readable LaTeX and is what
  math-verify receives.
* :func:`answer_key` goes further (``\\dfrac`` -> ``\\frac``, ``\\frac12`` ->
  ``\\frac{1}{2}``, no spaces, ``x=3`` -> ``3``, ``0.50`` -> ``0.5``, percent sign
  dropped). Two answers with the same key are treated as equal without math-verify.

math-verify's own LaTeX normalisation does most of this too (units, ``\\text``, ``\\!``,
``\\left``, degrees, ``\\dfrac``); it is repeated here on purpose, because the key must be
computed without paying for math-verify (see docs/grading.md).
"""

from __future__ import annotations

import re
from fractions import Fraction

# clean_answer and comma_readings live in .cleanup; importers of this module keep them.
from .cleanup import _NUMBER, _strip_outer, clean_answer, comma_readings  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------- keys

_ASSIGNMENT = re.compile(r"(?:[A-Za-z](?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*=\s*")
_SCRIPT_SHORT = re.compile(r"([_^])\s*([0-9A-Za-z])")
_MCQ = re.compile(r"\(([A-Ea-e])\)|([A-E])")
_TEXT_ANSWER = re.compile(r"[A-Za-z][A-Za-z ,.'()\-]*")


def answer_key(answer: str | None) -> str | None:
    """The normalized string the fast path compares (None for a missing/empty answer).

    Equal keys mean equal answers; different keys mean "unknown", not "different".
    Majority voting groups sampled answers by this key before any expensive check.
    """
    if answer is None:
        return None
    return _key_of_clean(clean_answer(answer))


def _key_of_clean(c: str) -> str | None:
    if not c:
        return None
    k = re.sub(r"\\[dtc]frac(?![A-Za-z])", r"\\frac", c)
    k = k.replace("\\%", "")  # 30\% and 30 share a key: math-verify treats them as equal too
    k = re.sub(r"\\(le|ge|ne)(?![A-Za-z])", r"\\\1q", k)
    m = _ASSIGNMENT.match(k)
    if m and "=" not in k[m.end() :] and k[m.end() :].strip():
        k = k[m.end() :]  # "x = 3" -> "3": a single variable assigned a value
    k = _SCRIPT_SHORT.sub(r"\1{\2}", k)
    # Spaces matter only between a command name and a following letter (\sin x).
    k = re.sub(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])", "\\1\x00", k)
    k = re.sub(r"\s+", "", k).replace("\x00", " ")
    k = _strip_outer(k)
    number = _canonical_number(k)
    if number is not None:
        return number
    mcq = _MCQ.fullmatch(k)
    if mcq:
        return (mcq.group(1) or mcq.group(2)).upper()
    if is_text_answer(c):
        return " ".join(re.sub(r"[^a-z0-9 ]", " ", c.lower()).split())
    if is_prose(c):
        return k.lower()  # sentences: "The bulb ..." and "the bulb ..." are the same answer
    return k


def assignment_lhs(clean: str) -> str | None:
    """The variable of ``x = 3`` (spaces and braces normalized), else None."""
    m = _ASSIGNMENT.match(clean)
    if m is None or "=" in clean[m.end() :]:
        return None
    return _SCRIPT_SHORT.sub(r"\1{\2}", re.sub(r"\s+", "", clean[: m.end()]))


def _canonical_number(k: str) -> str | None:
    """``+0.50`` -> ``0.5``; ``5.0`` -> ``5``; None unless ``k`` is a plain decimal."""
    if not re.fullmatch(_NUMBER, k) or len(k) > 200:
        return None
    sign = "-" if k.startswith("-") else ""
    body = k.lstrip("+-")
    if "." in body:
        body = body.rstrip("0").rstrip(".")
    body = body.lstrip("0") or "0"
    if body.startswith("."):
        body = "0" + body
    return "0" if body == "0" else sign + body


def is_text_answer(clean: str) -> bool:
    """Text such as ``Sunday`` or ``No solution``: letters only, with a real word in it.

    math-verify turns prose into a product of one-letter symbols, so ``Sunday`` would
    equal ``Sundya``; prose is therefore compared as text.
    """
    if not _TEXT_ANSWER.fullmatch(clean):
        return False
    words = re.findall(r"[A-Za-z]+", clean)
    return any(len(w) >= 3 for w in words)


_COMMAND_WORD_ARG = re.compile(r"\\[A-Za-z]+\*?\s*\{[A-Za-z*]*\}(?:\{[lcr|]*\})?")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
# Function names that appear without a backslash in plain-text answers.
_FUNCTION_WORDS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan",
    "log", "exp", "max", "min", "lim", "inf", "sup", "mod", "gcd", "lcm", "deg", "dim", "ker", "det", "sgn",
}


def is_prose(clean: str) -> bool:
    """A sentence-like answer: at least two words of three or more letters.

    CollegeMath has many ("concave up when $x<0$ ..."). Commands (``\\sqrt``) and plain
    function names (``sin``) are not words.
    """
    bare = _COMMAND_WORD_ARG.sub(" ", clean)  # \\begin{pmatrix}, \\mathbb{R}: names, not words
    words = [w for w in _WORD.findall(bare) if w.lower() not in _FUNCTION_WORDS]
    return len(words) >= 2


# ------------------------------------------------------------------------- numbers

_SCI = re.compile(rf"({_NUMBER})\\(?:times|cdot)10\^\{{([-+]?\d{{1,4}})\}}")
_FRAC_NUM = re.compile(r"(-?)\\frac\{(-?\d{1,50})\}\{(-?\d{1,50})\}")
_SLASH_NUM = re.compile(r"(-?\d{1,50})/(-?\d{1,50})")
_E_NOTATION = re.compile(rf"{_NUMBER}[eE][-+]?\d{{1,4}}")


def parse_number(key: str | None) -> Fraction | None:
    """Exact value of a key that is a plain number, else None.

    Accepts integers, decimals, ``a/b``, ``\\frac{a}{b}``, ``1.5e3`` and
    ``1.5\\times10^{3}``. math-verify does not read ``1.5e3`` as 1500 (it parses
    ``e`` as Euler's number), so the fast path decides those.
    """
    if key is None or len(key) > 120:
        return None
    try:
        if re.fullmatch(_NUMBER, key) or _E_NOTATION.fullmatch(key):
            return Fraction(key)
        m = _SLASH_NUM.fullmatch(key)
        if m:
            return Fraction(int(m.group(1)), int(m.group(2)))
        m = _FRAC_NUM.fullmatch(key)
        if m:
            value = Fraction(int(m.group(2)), int(m.group(3)))
            return -value if m.group(1) else value
        m = _SCI.fullmatch(key)
        if m:
            return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
    except (ValueError, ZeroDivisionError):
        return None
    return None


def has_percent(clean: str) -> bool:
    """Whether the cleaned answer carries a percent sign (``30\\%``)."""
    return clean.endswith("\\%")


__all__ = [
    "answer_key",
    "assignment_lhs",
    "clean_answer",
    "comma_readings",
    "has_percent",
    "is_prose",
    "is_text_answer",
    "parse_number",
]
