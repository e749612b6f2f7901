"""The fast path: decide a cleaned (pred, gold) pair in pure Python, or leave it to math-verify.

Normalized keys, exact rational values of plain numbers, unordered sets of numbers,
numerals in a base, clock times, prose and multiple-choice letters; microseconds per pair.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ._latex import split_top_level
from .normalize import _key_of_clean, assignment_lhs, has_percent, is_prose, is_text_answer, parse_number

# Numbers closer than this (relative) are left to math-verify, which rounds floats to
# 6 decimals: 0.333333 equals 1/3 there but not as exact rationals.
_CLOSE = Fraction(1, 10**5)


def fast_opinion(pred: str, gold: str) -> tuple[bool | None, bool]:
    """(opinion, decisive) for one cleaned reading of each side."""
    kp, kg = _key_of_clean(pred), _key_of_clean(gold)
    if kp is None or kg is None:
        return None, False
    if kp == kg:
        lhs_p, lhs_g = assignment_lhs(pred), assignment_lhs(gold)
        if lhs_p is not None and lhs_g is not None and lhs_p != lhs_g:
            return None, False  # "y_2 = x" vs "y_3 = x": the keys drop the names; math-verify does not
        return True, True
    if not (_balanced(pred) and _balanced(gold)):
        return False, True  # malformed LaTeX: math-verify would pick a fragment out of it
    vp, vg = parse_number(kp), parse_number(kg)
    if vp is not None and vg is not None:
        inexact = any(c in kp + kg for c in ".eE")  # a decimal on either side
        return _compare_numbers(vp, vg, has_percent(pred), has_percent(gold), inexact)
    lp, lg = _number_set(kp), _number_set(kg)
    if lp is not None and lg is not None:
        return _compare_number_sets(lp, lg)
    bp, bg = _BASE.fullmatch(kp), _BASE.fullmatch(kg)
    if bp and bg:
        # math-verify drops the subscript, so 204_5 would equal 204_6.
        return (bp.group(1).upper(), bp.group(2)) == (bg.group(1).upper(), bg.group(2)), True
    if is_prose(gold) and is_prose(pred):
        # math-verify cannot compare two sentences: it compares whichever formula it
        # finds in each, so two sentences that differ in one number can match. Prose
        # against prose is decided on the normalized text; a short prediction against a
        # prose gold ("0.625" vs "placed 0.625 cm above ...") still goes to math-verify.
        return False, True
    tp, tg = _clock_time(pred), _clock_time(gold)
    if tp is not None or tg is not None:
        # math-verify drops "a.m."/"p.m." like a unit, so 9 a.m. would equal 9 p.m.
        return (tp == tg, True) if tp is not None and tg is not None else (None, False)
    if is_text_answer(pred) and is_text_answer(gold):
        return False, True  # keys of prose are lower-cased words: different keys, different prose
    if len(kp) == 1 and len(kg) == 1 and kp.isupper() and kg.isupper():
        return False, True  # two different multiple-choice letters
    for letter, other in ((kg, pred), (kp, gold)):
        chosen = _CHOICE_WITH_TEXT.match(other)
        if len(letter) == 1 and letter in "ABCDE" and chosen:
            return chosen.group(1) == letter, True  # "C. x = 42": the choice, then its content
    return None, False


_CHOICE_WITH_TEXT = re.compile(r"\(?([A-E])\)?[.:)]\s+\S")
_BASE = re.compile(r"(-?[0-9A-Za-z.]+)_\{(\d+)\}")  # a numeral in base b: 204_{5}
_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\.?", re.IGNORECASE)


def _clock_time(clean: str) -> tuple[int, int, str] | None:
    """``4:30 p.m.`` -> (4, 30, "p"); None unless the answer is a clock time."""
    m = _TIME.fullmatch(clean.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2) or 0), m.group(3).lower()


def _balanced(s: str) -> bool:
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth < 0:
            return False
        i += 1
    return depth == 0


def _close(a: Fraction, b: Fraction) -> bool:
    return abs(a - b) <= _CLOSE * max(1, abs(a), abs(b))


def _compare_numbers(a: Fraction, b: Fraction, a_pct: bool, b_pct: bool, inexact: bool) -> tuple[bool | None, bool]:
    # A percent sign on either side also allows the /100 reading: 30\% == 0.3. Without
    # a sign 30 == 30\% (keys match) but 30 != 0.3.
    readings = [(a, b)]
    if a_pct:
        readings.append((a / 100, b))
    if b_pct:
        readings.append((a, b / 100))
    if any(x == y for x, y in readings):
        return True, True
    if inexact and any(_close(x, y) for x, y in readings):
        # Rounding-level difference: math-verify decides (it rounds floats to 6
        # decimals; integers and fractions it compares exactly, as done here).
        return False, False
    return False, True


def _number_set(key: str) -> frozenset[Fraction] | None:
    """``1,2,3`` or ``\\{1,2,3\\}`` -> {1, 2, 3}; None unless every element is a number.

    Tuples and intervals (brackets) are ordered, so they are not read as sets.
    """
    if key.startswith("\\{") and key.endswith("\\}"):
        key = key[2:-2]
    parts = split_top_level(key)
    if len(parts) < 2:
        return None
    values = [parse_number(p) for p in parts]
    if any(v is None for v in values):
        return None
    return frozenset(values)  # type: ignore[arg-type]


def _compare_number_sets(a: frozenset[Fraction], b: frozenset[Fraction]) -> tuple[bool | None, bool]:
    if a == b:
        return True, True  # order-free, as math-verify compares sets
    if any(_close(x, y) for x in a - b for y in b - a):
        return False, False
    return False, True
