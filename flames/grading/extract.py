"""Pull the final answer out of a model output (or a reference solution).

``extract_answer(text, mode=...)`` follows the grading mode (``flames.grading.modes``):

* ``flames`` (default), first hit wins:

  1. the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces allowed), or
     ``\\boxed 5`` without braces. Boxes that directly follow each other
     (``\\boxed{1}, \\boxed{2}`` or ``\\boxed{-2} and \\boxed{1}``) are one answer, a list.
     An answer marker *after* the last box wins over it (the text's final statement);
  2. the last answer marker: GSM8K ``#### 42``, "The (final) answer is ...",
     "Final Answer: ...", "Answer: ...". When what follows is a sentence ("Final Answer:
     The largest $n$ is 34.") the answer is what follows its last "is", else its only
     formula, else its only number;
  3. the last math span (``$...$``, ``\\(...\\)``, ``\\[...\\]``) when nothing numeric
     follows it: relations (``x \\geq 5``), intervals, tuples, matrices and equations are
     kept whole, a chain of equations is cut to its ends (``x = 5+6 = 11`` -> ``x = 11``);
  4. as a last resort, the last number in the text. This is what the Qwen2.5-Math
     evaluation (the paper's grader) does for outputs without a box; it rescues answers of
     models that ignore the format, at the price of sometimes picking an intermediate
     number from a truncated output. Callers that want the strict behaviour can check
     ``answer_source(text) != "last_number"``.

* ``qwen``: the Qwen2.5-Math evaluation's own choice (``flames.grading.qwen.extract_raw``).
* ``math_verify``: the text itself; math-verify extracts inside ``parse``.
"""

from __future__ import annotations

import re

from . import qwen
from ._latex import closing_brace, split_top_level
from .cleanup import clean_answer
from .modes import DEFAULT_MODE, check_mode
from .normalize import is_prose

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_MARKER = re.compile(r"####|\banswer\s*(?:is\b|:|=)", re.IGNORECASE)
# A number not glued to a word: AZYUK2A holds no answer.
_NUMBER = re.compile(r"(?<![A-Za-z\d])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\s+I hope\b", re.IGNORECASE)
_MAX_BOX_TRIES = 20  # bounded work on outputs with thousands of unclosed boxes
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# What may stand between boxes that together are one answer: \boxed{1}, \boxed{2} and \boxed{3}.
_BOX_JOINER = re.compile(r"(?:\s|[,;$&]|\\[,;:! ]|\\q?quad|\\[()\[\]]|\band\b|\\text\s*\{\s*(?:and|,)?\s*\})*")
_MAX_JOINER = 60
# A verb that introduces the answer inside an answer sentence ("The largest $n$ is 34").
_COPULA = re.compile(r"\b(?:is|are|was|equals)\s+")
# An escaped \$ is a dollar sign inside the formula, not its end.
_MATH_SPAN = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_SPAN_WINDOW = 4000  # the last math span is searched near the end only: bounded work
_RELATION = re.compile(r"\\(?:geq?|leq?|gt|lt|neq?|in|subset|cup|cap)(?![A-Za-z])|[<>]|!=")
_STRUCTURE = re.compile(r"\s*(?:\\left\s*)?(?:[(\[]|\\\{|\\begin\{)")
_DIGIT = re.compile(r"\d")


def extract_answer(text: str | None, *, mode: str = DEFAULT_MODE) -> str | None:
    """The final answer in ``text`` as the grading ``mode`` reads it, or None when there is none.

    In the ``flames`` mode the result has gone through
    :func:`flames.grading.cleanup.clean_answer` (units, ``$``, trailing period,
    thousands separators, ``\\left``/``\\right``, degrees removed). In the ``qwen`` mode it
    is the Qwen2.5-Math evaluation's raw choice (normalised later, when graded). In the
    ``math_verify`` mode it is the text itself: math-verify extracts inside ``parse``.
    """
    check_mode(mode)
    if mode == "qwen":
        return qwen.extract_raw(text)
    if mode == "math_verify":
        return text.strip() or None if text else None
    found = _locate(text)
    if found is None:
        return None
    cleaned = clean_answer(found[1])
    return cleaned or None


def answer_source(text: str | None) -> str | None:
    """Which ``flames`` rule found the answer: "boxed", "marker", "math_span", "last_number" or None."""
    found = _locate(text)
    return found[0] if found else None


def last_boxed(text: str | None) -> str | None:
    """The raw content of the last complete ``\\boxed{...}``/``\\fbox{...}`` (gold answers from solutions)."""
    if not text:
        return None
    boxes = _complete_boxes(text)
    return boxes[-1][2] if boxes else None


def inner_answer(text: str) -> str:
    """The answer a box or an answer sentence wraps (cleaned); other text unchanged.

    For callers that pass an answer rather than a model output: no fallback to the last
    formula or number, which would turn an unclosed ``\\boxed{1`` into ``1``.
    """
    if "\\boxed" not in text and "\\fbox" not in text and _MARKER.search(text) is None:
        return text
    found = _locate(text)
    if found is None or found[0] not in ("boxed", "marker"):
        return text
    return clean_answer(found[1]) or text


def _locate(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    boxed = _boxed_answer(text)
    if boxed is not None:
        return "boxed", boxed
    for source, finder in (("marker", _after_last_marker), ("math_span", _last_math_span), ("last_number", _last_number)):
        raw = finder(text)
        if raw is not None and raw.strip():
            return source, raw
    return None


def _boxed_answer(text: str) -> str | None:
    """The last box (with the boxes that directly precede it), unless a marker follows it."""
    boxes = _complete_boxes(text)
    if not boxes:
        return None
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = text[box[1] : group[0][0]]
        if len(gap) > _MAX_JOINER or not _BOX_JOINER.fullmatch(gap):
            break
        group.insert(0, box)
    tail = text[group[-1][1] :]
    if _MARKER.search(tail):
        after = _after_last_marker(tail)
        if after and after.strip():
            return after
    return ", ".join(content for _, _, content in group)


def _complete_boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of the complete, non-empty boxes among the last few."""
    boxes = []
    for m in list(_BOX.finditer(text))[-_MAX_BOX_TRIES:]:
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            close = closing_brace(text, i)
            if close is not None and text[i + 1 : close].strip():
                boxes.append((m.start(), close + 1, text[i + 1 : close]))
            continue  # unclosed (truncated output) or empty: an earlier box may do
        token = re.match(r"[^\s$]+", text[i:])  # "\boxed 5": no braces
        if token:
            boxes.append((m.start(), i + token.end(), token.group(0)))
    return boxes


def _after_last_marker(text: str) -> str | None:
    for m in reversed(list(_MARKER.finditer(text))):
        rest = text[m.end() :].lstrip(" \t:=*")
        line = _unquote(rest.split("\n", 1)[0].strip())
        answer = _math_segment(line) or _answer_in_sentence(_first_sentence(line))
        if answer:
            return answer
    return None


def _unquote(line: str) -> str:
    """``"$12$ and $13$".`` -> ``$12$ and $13$.``: quotes around a final answer are not part of it."""
    for quote in ('\\"', '"'):
        if line.startswith(quote):
            line = line[len(quote) :]
            end = line.find(quote)
            if end >= 0:
                line = line[:end] + line[end + len(quote) :]
    return line.strip()


def _math_segment(line: str) -> str | None:
    """``$\\frac{1}{2}$. I hope...`` -> ``\\frac{1}{2}`` when the line opens with math."""
    for left, right in _DELIMS:
        if line.startswith(left):
            end = line.find(right, len(left))
            if end > len(left):
                return line[len(left) : end]
    return None


def _first_sentence(line: str) -> str:
    m = _SENTENCE_END.search(line)
    return (line[: m.start()] if m else line).strip()


def _answer_in_sentence(sentence: str) -> str:
    """The answer inside an answer sentence; the sentence itself when it is not prose."""
    if not is_prose(clean_answer(sentence)):
        return sentence
    verbs = list(_COPULA.finditer(sentence))
    if verbs:
        after = sentence[verbs[-1].end() :].strip()
        if after:
            return _math_segment(after) or after
    spans = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN.finditer(sentence)]
    if len(spans) == 1:
        return spans[0]
    numbers = _NUMBER.findall(sentence)
    return numbers[0] if len(numbers) == 1 else sentence


def _last_math_span(text: str) -> str | None:
    """The last formula, when nothing numeric follows it (see the module docstring)."""
    window = text[-_SPAN_WINDOW:]
    last = None
    for last in _MATH_SPAN.finditer(window):
        pass
    if last is None or _DIGIT.search(window[last.end() :]):
        return None
    span = next(g for g in last.groups() if g is not None).strip()
    if _RELATION.search(span) or _STRUCTURE.match(span):
        return span
    sides = split_top_level(span, "=")
    if len(sides) < 3:
        return span
    return sides[0].strip() + " = " + sides[-1].split("\\approx")[0].strip()


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None
