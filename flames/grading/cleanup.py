"""``clean_answer``: an answer's presentation (delimiters, units, spacing) removed, its mathematics kept.

Its output is still readable LaTeX: it is what math-verify receives, and what
:mod:`flames.grading.normalize` turns into the fast path's key.
"""

from __future__ import annotations

import re

from ._latex import strip_outer_braces, unwrap_commands

# Commands whose argument is plain text. \mathrm is included: benchmarks (CollegeMath)
# write units as \mathrm{~cm}.
_TEXT_COMMANDS = ("text", "textbf", "textit", "textrm", "textnormal", "mbox", "mathrm", "mathbf", "rm")

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash (models use it as a minus)
    "\u00d7": "\\times ",
    "\u22c5": "\\cdot ",
    "\u00b7": "\\cdot ",
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u2264": "\\leq ",
    "\u2265": "\\geq ",
    "\u2260": "\\neq ",
    "\u00a0": " ",
}

_MATH_LINE_BREAK = re.compile(r"(?<!\\)\$[ \t]*\n\s*\$(?!\$)")
# "\\\\" (a LaTeX row break) is matched first so that its second backslash is never
# read as the start of "\\ " or "\\,".
_SPACING = re.compile(r"\\\\|\\(?:quad|qquad|displaystyle|textstyle)(?![A-Za-z])|\\[,;:> !]|~")
_SIZING = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![A-Za-z])\.?")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\degree(?![A-Za-z])|\u00b0")
_CONNECTOR = re.compile(r"\\(?:text|mbox|textrm)\s*\{\s*(?:and|or|,)\s*\}")
# MATH writes 5,\!525 (models add a space: 11,\! 111); \, is a thin space, 1\,000.
_MATH_THOUSANDS = re.compile(r"(\d)(?:,\\!\s*|\\,)(?=\d{3}(?!\d))")
_SPACED_THOUSANDS = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")
# Thousands commas inside an expression (not a list): 1,000 + 2,500.
_EXPR_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,])")
_OPERATOR = re.compile(r"[+*/=]|\\(?:frac|times|cdot)(?![A-Za-z])")
# "28 percent", "28 pct", "\boxed{28 percentage}", "28\text{ percent}": one spelling, \%.
_PERCENT_TEXT = re.compile(r"\\(?:text|mbox|textrm|mathrm)\s*\{\s*(?:percentage|percent|pct)\s*\}")
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:percentage|percent|pct)\b")
_PLAIN_AND = re.compile(r"(?<=\d)\s+and\s+(?=[-\d\\])")
_DOUBLE_COMMA = re.compile(r",(?:\s*(?:,|and\s))+\s*")  # a run of separators: one comma
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:\\%)?")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_NUMBER_THEN_WORDS = re.compile(rf"({_NUMBER}(?:\\%)?)\s+([A-Za-z][A-Za-z.\- ]*)")
# Words that follow a number in an answer but are mathematics, not a unit.
_MATH_WORDS = {"and", "or", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "mod", "pi", "sqrt", "times", "over"}
_UNIT_BODY = re.compile(r"[A-Za-z~ .\\,/\-]*")
_UNIT_POWER = re.compile(r"\s*\^\s*(?:\{\s*\d\s*\}|\d)")


def _spacing_replacement(m: re.Match) -> str:
    token = m.group(0)
    if token == "\\\\":
        return token
    return "" if token == "\\!" else " "  # \! is a negative thin space: 98,\!770


def _strip_delimiters(s: str) -> str:
    """Drop ``$``/``\\(``/``\\[`` math delimiters and ``\\$`` currency signs."""
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right):
            s = s[len(left) : -len(right)]
    # Formulas on separate lines ("$y_1=...$\n$y_2=...$") are parts of one answer.
    s = _MATH_LINE_BREAK.sub(", ", s)
    # After the pairs above, every remaining dollar is either a delimiter or a currency
    # sign; neither belongs to the value.
    return s.replace("\\$", "").replace("$", "").strip()


def _strip_trailing_units(s: str) -> str:
    """Remove trailing ``\\text{ cm}^2``-style unit groups after some mathematical content.

    A linear loop rather than one regex: a pattern like ``(\\s*\\text\\{..\\})+$`` can
    backtrack exponentially on long adversarial input.
    """
    for _ in range(4):  # bounded: each round rescans the string
        stripped = s.rstrip()
        # Optional power of the unit (cm^2) sits after the group.
        power = None
        for m in _UNIT_POWER.finditer(stripped):
            if m.end() == len(stripped):
                power = m
        body_end = power.start() if power else len(stripped)
        if body_end == 0 or stripped[body_end - 1] != "}":
            return s
        open_idx = _matching_open(stripped, body_end - 1)
        if open_idx is None:
            return s
        cmd = re.search(r"\\(?:" + "|".join(_TEXT_COMMANDS) + r")\s*$", stripped[:open_idx])
        body = stripped[open_idx + 1 : body_end - 1]
        if cmd is None or not _is_unit_body(body):
            return s
        rest = stripped[: cmd.start()].rstrip()
        # Unit chains such as \mathrm{m} / \mathrm{s}: the joiner goes with the unit.
        while rest and rest[-1] in "/*-" and rest[:-1].rstrip().endswith("}"):
            rest = rest[:-1].rstrip()
        if not re.search(r"[0-9A-Za-z}]", rest) or rest[-1] in "+-*/=^_({[,":
            return s  # nothing mathematical before it: the text is the answer itself
        s = rest
    return s


def _is_unit_body(body: str) -> bool:
    """``\\text{ cm}`` is a unit; ``\\text{(A)}`` and ``\\text{ p.m.}`` are not."""
    if not _UNIT_BODY.fullmatch(body) or not re.search(r"[A-Za-z]", body):
        return False
    return body.strip(" .~").lower().replace(".", "") not in {"am", "pm", "a", "b", "c", "d", "e"}


def _matching_open(s: str, close_idx: int) -> int | None:
    """Index of the ``{`` that the ``}`` at ``close_idx`` closes (backwards scan)."""
    depth = 0
    i = close_idx
    while i >= 0:
        ch = s[i]
        escaped = i > 0 and s[i - 1] == "\\"
        if not escaped:
            if ch == "}":
                depth += 1
            elif ch == "{":
                depth -= 1
                if depth == 0:
                    return i
        i -= 1
    return None


def _strip_trailing_punctuation(s: str) -> str:
    s = s.rstrip()
    while s and (s[-1] in ".,;:\\" or s.endswith("\\\\")):
        if s.endswith("\\\\"):
            s = s[:-2]
        elif s[-1] == "\\":
            s = s[:-1]  # a stray trailing backslash (185\): an unfinished command, not content
        elif s[-1] == "." and (s.endswith("\\.") or s.endswith("...")):
            break  # an escaped period or an ellipsis (1, 2, 3, ...) is content, not punctuation
        else:
            s = s[:-1]
        s = s.rstrip()
    return s


def clean_answer(answer: str, *, thousands: bool = True) -> str:
    """Remove presentation from an extracted answer; keep the mathematics.

    ``10\\text{ cm}`` -> ``10``, ``$1,080$.`` -> ``1080``, ``\\left( 1, 2 \\right)`` ->
    ``( 1, 2 )``, ``45^\\circ`` -> ``45``, ``\\text{(A)}`` -> ``(A)``. With
    ``thousands=False`` commas between digit groups are kept, which is the other
    reading of an ambiguous answer such as ``70,110`` (a number or a list of two).
    The function is idempotent.
    """
    s = answer.strip()
    for char, repl in _UNICODE.items():
        if char in s:
            s = s.replace(char, repl)
    s = _strip_delimiters(s)
    s = _strip_trailing_punctuation(s)
    s = s.replace("{,}", ",")
    s = _MATH_THOUSANDS.sub(r"\1", s)  # always a separator, never a list
    s = _PERCENT_WORD.sub("\\%", _PERCENT_TEXT.sub("\\%", s))
    s = _SIZING.sub("", s)
    s = _SPACING.sub(_spacing_replacement, s)
    s = _DEGREES.sub("", s)
    s = _CONNECTOR.sub(", ", s)
    s = _PLAIN_AND.sub(", ", s)
    s = _DOUBLE_COMMA.sub(", ", s)  # "7, -2, \text{ and } -5" and "7, -2, and -5"
    s = _strip_trailing_units(s)
    s = unwrap_commands(s, _TEXT_COMMANDS)
    s = re.sub(r"(?<!\\)%", r"\\%", s)  # one spelling of the percent sign
    s = re.sub(r"\s+", " ", s).strip()
    s = _strip_outer(s)
    s = _brace_short_forms(s)
    m = _NUMBER_THEN_WORDS.fullmatch(s)
    if m and _is_unit_phrase(m.group(2)):
        s = m.group(1)  # "18 dollars" -> "18"
    if thousands:
        s = _drop_thousands(s)
    return _strip_trailing_punctuation(s)


def _drop_thousands(s: str) -> str:
    """Thousands separators out of a number (``1,080``, ``1 000``) or an expression.

    Inside an expression only outside brackets, where a comma cannot separate the
    elements of a tuple: ``(1,080)`` stays a pair.
    """
    if _THOUSANDS.fullmatch(s):
        return s.replace(",", "")
    if _SPACED_THOUSANDS.fullmatch(s):
        return s.replace(" ", "")
    if "," in s and _OPERATOR.search(s) and not re.search(r"[(\[]|\\\{", s):
        return _EXPR_THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), s)
    return s


def _strip_outer(s: str) -> str:
    s = strip_outer_braces(s)
    return s.strip()


def _is_unit_phrase(words: str) -> bool:
    first = words.split()[0].strip(".").lower() if words.split() else ""
    return len(first) >= 2 and first not in _MATH_WORDS and first.replace(".", "") not in {"am", "pm"}


def _brace_short_forms(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\sqrt3`` -> ``\\sqrt{3}``.

    Same meaning in LaTeX; math-verify's parser misreads some short forms
    (``\\frac \\pi4``), so both the key and math-verify get the braced form.
    """
    if "\\frac" in s or "\\sqrt" in s:
        s = _FRAC_SHORT.sub(lambda f: f.group(0)[: f.start(1) - f.start(0)].rstrip() + _brace(f.group(1)) + _brace(f.group(2)), s)
        s = _SQRT_SHORT.sub(lambda f: "\\sqrt{" + f.group(1) + "}", s)
    return s


_FRAC_SHORT = re.compile(r"\\[dtc]?frac\s*(\d|\\[A-Za-z]+|\{[^{}]*\})\s*(\d|\\[A-Za-z]+|\{[^{}]*\})")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d|\\[A-Za-z]+)")


def _brace(arg: str) -> str:
    return arg if arg.startswith("{") else "{" + arg + "}"


def comma_readings(answer: str) -> list[str]:
    """Clean readings of an answer: one, or more when its commas are ambiguous.

    ``70,110`` in MATH is a list of two angles while ``1,080`` in a GSM8K-style answer
    is a number; the text alone cannot tell, so both readings are kept. ``0,111`` also
    gets its decimal-comma reading.
    """
    first = clean_answer(answer)
    second = clean_answer(answer, thousands=False)
    readings = [first] if first == second else [first, second]
    if _DECIMAL_COMMA.fullmatch(second):
        readings.append(second.replace(",", "."))  # 0,111 or 1000,99: a decimal comma
    return readings


# A comma that can only be a decimal comma: 0,111 or 1000,99 (never a thousands group,
# and no MATH list looks like this). 1,22 stays a list: see docs/grading.md.
_DECIMAL_COMMA = re.compile(r"0,\d+|\d{4,},\d{1,2}")


__all__ = ["clean_answer", "comma_readings"]
