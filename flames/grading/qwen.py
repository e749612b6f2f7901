r"""The ``qwen`` grading mode: parity with the Qwen2.5-Math evaluation toolkit.

The FLAMES paper graded with the Qwen2.5-Math evaluation (``evaluation/parser.py`` and
``evaluation/grader.py`` in QwenLM/Qwen2.5-Math). This module re-implements, from that
code's observed behaviour and its own unit tests, what it does; none of its code is
copied. What the mode reproduces:

* **its choice of prediction** (:func:`extract_raw`): the Minerva "final answer is $X$.
  I hope" form first, then the text after the *last* ``boxed`` (an unclosed box keeps
  the rest of the text), then everything after "he answer is" / "final answer is",
  then the last number (commas dropped);
* **its normalisation** (:func:`normalize`, Qwen's ``strip_string``): units and unit
  words removed, ``\%`` dropped, ``x=`` dropped, ``\{``/``\}`` read as braces, spaces
  removed, ``a/b`` -> ``\frac{a}{b}``;
* **its comparison** (:func:`qwen_equal`, Qwen's ``math_equal``): numbers with a
  relative tolerance of 1e-4, each gold number also read as gold/100 and gold*100 (its
  percent handling); bracketed lists compared element by element *in order*; matrices
  element by element; equations as ``lhs - rhs`` up to sign; then sympy.

Known deviations, all on purpose: Qwen's ``parse_expr`` fallback evaluates Python code
from the model output, so it is not reproduced (a bare comma list, which ``parse_expr``
reads as a tuple, is compared as an ordered tuple instead); its LaTeX parser is replaced
by ``latex2sympy2_extended`` (math-verify's parser), and the number-word conversion
(``word2number``) is left out. The symbolic step runs in the grading workers, under the
same hard timeout as math-verify.
"""

from __future__ import annotations

import math
import re

# Qwen's unit vocabulary (mainly from MathQA), re-typed: a word is dropped when it stands
# alone, between non-alphanumeric characters. Single letters are in it, so Qwen also
# drops a standalone "a", "t", "s" ... from expressions; that is part of its behaviour.
_UNIT_WORDS = (
    "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .", "monkey",
    "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain",
    "ab", "way", "west", "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change",
    "men", "soldier", "pie", "bc", "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c",
    "acre", "rise", "a . m", "th", "π r 2", "sq", "mark", "l", "toy", "coin", "sq . m", "gallon", "° f",
    "profit", "minw", "yr", "women", "feet", "am", "pm", "hr", "cu cm", "square", "v â € ™", "are",
    "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "day", "hour", "minute", "min",
    "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare", "more", "unit",
    "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter", "loss",
    "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m", "s .",
    "metre", "meter", "inch",
)
_UNIT_PATTERNS = [(w, re.compile(r"(^|\W)" + re.escape(w) + r"($|\W)")) for w in _UNIT_WORDS + tuple(w + "s" for w in _UNIT_WORDS)]
_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")
_CHOICES = re.compile(r"\b(A|B|C|D|E)\b")
_LIST = re.compile(r"(\(|\[).+(\)|\])", re.DOTALL)
_TOLERANCE = 1e-4  # Qwen's numeric_equal: math.isclose(gold, pred, rel_tol=1e-4)


# ------------------------------------------------------------------ prediction


def extract_raw(text: str | None) -> str | None:
    """Qwen's choice of prediction in a model output, before normalisation (None if none)."""
    if not text:
        return None
    text = text.replace("\u043a\u0438", "")
    if "final answer is $" in text and "$. I hope" in text:
        pred = text.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif "boxed" in text:
        pred = _after_box(text.rsplit("boxed", 1)[1])
    elif "he answer is" in text:
        pred = text.rsplit("he answer is", 1)[1].strip()
    elif "final answer is" in text:
        pred = text.rsplit("final answer is", 1)[1].strip()
    else:
        numbers = _LAST_NUMBER.findall(text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    pred = re.sub(r"\n\s*", "", pred)
    if pred.startswith(":"):
        pred = pred[1:]
    for tail in (".", "/"):
        if pred.endswith(tail):
            pred = pred[:-1]
    return pred or None


def _after_box(rest: str) -> str:
    """Content of the box that starts ``rest``; unbalanced braces keep the rest (as Qwen does)."""
    if not rest:
        return ""
    if rest[0] != "{":
        return rest.split("$")[0].strip()
    depth = 1
    for i, ch in enumerate(rest[1:], start=1):
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth == 0:
            return rest[1:i]
    return rest[1:]


def looks_like_output(text: str) -> bool:
    """Whether a caller passed a model output (which Qwen would extract from) rather than an answer."""
    return "boxed" in text or "he answer is" in text or "final answer is" in text


# -------------------------------------------------------------- normalisation


def normalize(answer: str) -> str:
    """Qwen's ``strip_string`` behaviour on one answer (re-implemented, see module docstring)."""
    s = str(answer).strip().replace("\n", "").rstrip(".").replace("\\!", "")
    s = re.sub(r"\\begin\{array\}\{.*?\}", r"\\begin{pmatrix}", s)
    s = s.replace("\\end{array}", "\\end{pmatrix}").replace("bmatrix", "pmatrix")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\{", "{").replace("\\}", "}")
    unitless = re.sub(r"\\text{.*?}$", "", s).strip()
    if unitless:
        s = unitless
    s = _drop_unit_words(s)
    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    for key in ("x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"):
        s = s.replace(key, "")
    s = s.replace("\\emptyset", "{}").replace("(-\\infty,\\infty)", "\\mathbb{R}")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    # (Qwen's unwrapping of "{x}" here requires the whole string, brackets included, to
    # be alphanumeric, which never holds; it is therefore left out.)
    s = s.replace("infinity", "\\infty")
    if "\\infty" not in s:
        s = s.replace("inf", "\\infty")
    s = s.replace("and", "").replace("\\mathbf", "")
    s = re.sub(r"\\mbox{.*?}", "", s)
    if "j" in s and "i" not in s:
        s = s.replace("j", "i")
    s = re.sub(r"(\d+)\.0*([^\d])", r"\1\2", s)
    s = re.sub(r"(\d+)\.0*$", r"\1", s)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", s).replace(" ", "")
    return _slash_to_frac(_brace_fracs(s))


def _drop_unit_words(s: str) -> str:
    for _ in range(2):
        for word, pattern in _UNIT_PATTERNS:
            if word not in s:
                continue  # same result, without a regex pass over a long answer
            dropped = pattern.sub(r"\1\2", s)
            if dropped:
                s = dropped
    return s


def _brace_fracs(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{72}`` -> ``\\frac{1}{72}`` (Qwen's ``_fix_fracs``)."""
    head, *rest = s.split("\\frac")
    out = [head]
    for part in rest:
        out.append("\\frac")
        if part.startswith("{"):
            out.append(part)
        elif len(part) < 2:
            return s  # malformed: Qwen gives the string back unchanged
        elif part[1] == "{":
            out.append("{" + part[0] + "}" + part[1:])
        else:
            out.append("{" + part[0] + "}{" + part[1] + "}" + part[2:])
    return "".join(out)


def _slash_to_frac(s: str) -> str:
    """``3/4`` -> ``\\frac{3}{4}`` when both sides are integers (or contain sqrt)."""
    parts = s.split("/")
    if len(parts) != 2:
        return s
    a, b = parts
    try:
        a2 = a if "sqrt" in a else str(int(a))
        b2 = b if "sqrt" in b else str(int(b))
    except ValueError:
        return s
    return f"\\frac{{{a2}}}{{{b2}}}" if f"{a2}/{b2}" == s else s


# ------------------------------------------------------------------ comparison


def qwen_equal(pred: str, gold: str, *, symbolic: bool) -> bool | None:
    """Qwen's ``math_equal`` on normalised answers.

    With ``symbolic=False`` (the parent's fast path) the result is None where Qwen would
    go on to sympy; with ``symbolic=True`` (a grading worker) it is always a bool.
    """
    if pred.strip().lower() == gold.strip().lower():
        return True
    if gold in ("A", "B", "C", "D", "E") and _choice(pred) == gold:
        return True
    if _numbers_equal(pred, gold):
        return True
    if not pred:
        return False
    pred, gold = pred.strip(), gold.strip()
    if "pmatrix" in pred and "pmatrix" not in gold:
        gold = _braces_to_pmatrix(gold)
    if _without_brackets(pred, gold):
        return True
    if _LIST.match(pred) and _LIST.match(gold):
        parts = _pairs(pred[1:-1].split(","), gold[1:-1].split(","))
        return _all(None if parts is None else [qwen_equal(p, g, symbolic=symbolic) for p, g in parts])
    if _is_matrix(pred) and _is_matrix(gold):
        return _compare_matrices(pred, gold, symbolic)
    if pred.count("=") == 1 and gold.count("=") == 1:
        return _symbolic_equation(pred, gold) if symbolic else None
    if _simple_equation(pred) and "=" not in gold:
        return qwen_equal(pred.split("=")[1], gold, symbolic=symbolic)
    if _simple_equation(gold) and "=" not in pred:
        return qwen_equal(pred, gold.split("=")[1], symbolic=symbolic)
    return symbolic_equal(pred, gold) if symbolic else None


def _choice(pred: str) -> str:
    pred = pred.strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":")
    letters = _CHOICES.findall(pred.upper())
    return (letters[-1] if letters else pred.strip().strip(".")).rstrip(".").rstrip("/")


def _digits(s: str) -> float | None:
    s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:
        pass
    if s.endswith("%"):
        s = s[:-1].rstrip("\\") if s[:-1].endswith("\\") else s[:-1]
        try:
            return float(s) / 100
        except ValueError:
            return None
    return None


def _numbers_equal(pred: str, gold: str) -> bool:
    """Both numbers: equal within 1e-4 relative, gold also read as gold/100 and gold*100."""
    p, g = _digits(pred), _digits(gold)
    if p is None or g is None:
        return False
    return any(_close(p, ref) for ref in (g / 100, g, g * 100))


def _close(a: float, b: float) -> bool:
    try:
        return math.isclose(b, a, rel_tol=_TOLERANCE)
    except (OverflowError, ValueError):
        return False


def _braces_to_pmatrix(s: str) -> str:
    groups = re.findall(r"\{.*,.*\}", s)
    return ", ".join("\\begin{pmatrix}" + g.strip("{}").replace(",", "\\") + "\\end{pmatrix}" for g in groups)


def _without_brackets(pred: str, gold: str) -> bool:
    """Qwen compares the answers once more with (), {} removed (and [] at the ends)."""
    if (pred.startswith("[") and pred.endswith("]") and not (gold.startswith("(") and gold.endswith(")"))) or (
        pred.startswith("(") and pred.endswith(")") and not (gold.startswith("[") and gold.endswith("]"))
    ):
        pred, gold = pred.strip("[]()"), gold.strip("[]()")
    table = str.maketrans("", "", "{}()")
    return pred.translate(table).lower() == gold.translate(table).lower()


def _pairs(a: list[str], b: list[str]) -> list[tuple[str, str]] | None:
    return list(zip(a, b)) if len(a) == len(b) else None


def _all(results: list | None) -> bool | None:
    """``all`` where an element may still be unknown (None); None for results means a length mismatch."""
    if results is None:
        return False
    unknown = False
    for r in results:
        if r is False:
            return False
        unknown |= r is None
    return None if unknown else True


def _is_matrix(s: str) -> bool:
    return s.startswith(("\\begin{pmatrix}", "\\begin{bmatrix}")) and s.endswith(("\\end{pmatrix}", "\\end{bmatrix}"))


def _matrix_rows(s: str) -> list[str]:
    body = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
    return [row.strip() for row in body.split("\\\\") if row.strip()]


def _compare_matrices(pred: str, gold: str, symbolic: bool) -> bool | None:
    pred_rows, gold_rows = _matrix_rows(pred), _matrix_rows(gold)
    if len(pred_rows) != len(gold_rows):
        return False
    results = []
    for p, g in zip(pred_rows, gold_rows):
        cells = _pairs(p.split("&"), g.split("&"))
        if cells is None:
            return False
        results.extend(qwen_equal(a, b, symbolic=symbolic) for a, b in cells)
    return _all(results)


def _simple_equation(s: str) -> bool:
    return s.count("=") == 1 and len(s.split("=")[0].strip()) <= 2


# -------------------------------------------------------------------- sympy


def _symbolic_equation(pred: str, gold: str) -> bool:
    """``a = b`` vs ``c = d``: ``a - (b)`` equals ``c - (d)`` or its negation."""
    p, g = _as_difference(pred), _as_difference(gold)
    return symbolic_equal(p, g) or symbolic_equal(f"-({p})", g)


def _as_difference(equation: str) -> str:
    lhs, rhs = equation.split("=")
    return f"{lhs.strip()} - ({rhs.strip()})"


def symbolic_equal(a: str, b: str) -> bool:
    """Qwen's ``symbolic_equal``: parse, then equal / simplify / |lhs-rhs| / numeric (1e-4) / matrix."""
    if "," in a.replace("{,}", "") or "," in b.replace("{,}", ""):
        return _tuples_equal(a, b)
    x, y = _parse(a), _parse(b)
    checks = (
        lambda: str(x) == str(y) or x == y,
        lambda: x.equals(y) or _simplify(x - y) == 0,
        lambda: abs(x.lhs - x.rhs).equals(abs(y.lhs - y.rhs)),
        lambda: _close(float(_evaluate(x)), float(_evaluate(y))),
        lambda: x.shape == y.shape and x.applyfunc(lambda v: round(v, 3)).equals(y.applyfunc(lambda v: round(v, 3))),
    )
    for check in checks:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - every failing check is just "not shown equal", as in Qwen
            continue
    return False


def _tuples_equal(a: str, b: str) -> bool:
    """A bare comma list: Qwen's ``parse_expr`` fallback reads it as an ordered tuple."""
    pa, pb = a.split(","), b.split(",")
    return len(pa) == len(pb) and all(symbolic_equal(x, y) for x, y in zip(pa, pb))


def _parse(s: str):
    """LaTeX -> sympy (math-verify's parser); the string itself when it cannot be parsed."""
    from latex2sympy2_extended import latex2sympy

    for text in (s.replace("\\\\", "\\"), s):
        try:
            return latex2sympy(text)
        except Exception:  # noqa: BLE001 - unparseable answers are compared as strings
            continue
    return s


def _simplify(expr):
    from sympy import simplify

    return simplify(expr)


def _evaluate(expr):
    from sympy import N

    return N(expr)
