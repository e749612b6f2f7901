"""Pull the final answer out of a model output (or a reference solution).

Priority, first hit wins:

1. the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces allowed), or
   ``\\boxed 5`` without braces;
2. the last answer marker: GSM8K ``#### 42``, "The (final) answer is ...",
   "Final Answer: ...", "Answer: ...";
3. as a last resort, the last number in the text.

The last-number fallback is what the Qwen2.5-Math evaluation (the paper's grader) does
for outputs without a box; it rescues answers of models that ignore the format, at the
price of sometimes picking an intermediate number from a truncated output. Callers that
want the strict behaviour can check ``answer_source(text) != "last_number"``.
"""

from __future__ import annotations

import re

from ._latex import closing_brace
from .normalize import clean_answer

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_MARKER = re.compile(r"####|\banswer\s*(?:is\b|:|=)", re.IGNORECASE)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\s+I hope\b", re.IGNORECASE)
_MAX_BOX_TRIES = 20  # bounded work on outputs with thousands of unclosed boxes
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def extract_answer(text: str | None) -> str | None:
    """The cleaned final answer in ``text``, or None when there is none.

    See the module docstring for the priority order. The result has gone through
    :func:`flames.grading.normalize.clean_answer` (units, ``$``, trailing period,
    thousands separators, ``\\left``/``\\right``, degrees removed).
    """
    found = _locate(text)
    if found is None:
        return None
    cleaned = clean_answer(found[1])
    return cleaned or None


def answer_source(text: str | None) -> str | None:
    """Which rule found the answer: "boxed", "marker", "last_number" or None."""
    found = _locate(text)
    return found[0] if found else None


def last_boxed(text: str | None) -> str | None:
    """The raw content of the last complete ``\\boxed{...}``/``\\fbox{...}`` (gold answers from solutions)."""
    return _last_boxed(text) if text else None


def _locate(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    for source, finder in (("boxed", _last_boxed), ("marker", _after_last_marker), ("last_number", _last_number)):
        raw = finder(text)
        if raw is not None and raw.strip():
            return source, raw
    return None


def _last_boxed(text: str) -> str | None:
    matches = list(_BOX.finditer(text))
    for m in reversed(matches[-_MAX_BOX_TRIES:]):
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            close = closing_brace(text, i)
            if close is not None and text[i + 1 : close].strip():
                return text[i + 1 : close]
            continue  # unclosed (truncated output) or empty: try an earlier box
        token = re.match(r"[^\s$]+", text[i:])  # "\boxed 5": no braces
        if token:
            return token.group(0)
    return None


def _after_last_marker(text: str) -> str | None:
    for m in reversed(list(_MARKER.finditer(text))):
        rest = text[m.end() :].lstrip(" \t:=*")
        line = rest.split("\n", 1)[0].strip()
        answer = _math_segment(line) or _first_sentence(line)
        if answer:
            return answer
    return None


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


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None
