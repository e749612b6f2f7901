"""Brace-aware helpers for LaTeX snippets.

Regular expressions cannot match nested braces, and backtracking patterns can take
exponential time on adversarial model output, so everything here is a linear scan.
"""

from __future__ import annotations


def closing_brace(text: str, open_idx: int) -> int | None:
    """Index of the ``}`` that closes the ``{`` at ``open_idx``, or None if unbalanced.

    Escaped braces (``\\{``, ``\\}``) are literal characters in LaTeX, not groups.
    """
    depth = 0
    i = open_idx
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip the escaped character, whatever it is
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def brace_pairs(text: str) -> dict[int, int]:
    """Every balanced ``{`` index -> its ``}`` index, in one pass (``closing_brace`` for all at once)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # escaped characters are not groups
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def command_argument(text: str, cmd_end: int) -> tuple[str, int] | None:
    """The braced argument that starts at ``cmd_end`` (spaces allowed before it).

    Returns ``(content, index after the closing brace)`` or None when there is no
    balanced braced argument.
    """
    i = cmd_end
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    close = closing_brace(text, i)
    if close is None:
        return None
    return text[i + 1 : close], close + 1


def unwrap_commands(text: str, names: tuple[str, ...]) -> str:
    """Replace every ``\\name{content}`` by ``content`` (nested ones included).

    Commands without a balanced argument are left alone. Instead of recursing into the
    content (deep nesting would overflow the stack) the closing brace is marked for
    removal and the scan simply continues inside the argument.
    """
    out: list[str] = []
    drop: set[int] = set()  # indices of closing braces that belong to unwrapped commands
    pairs = brace_pairs(text)  # one pass: closing_brace per command is quadratic on deep nesting
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if i in drop:
            i += 1
            continue
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        k = i + 1
        while k < n and text[k].isalpha():
            k += 1
        if k == i + 1:  # control symbol such as \\{ or \\%: copy both characters
            out.append(text[i : i + 2])
            i += 2
            continue
        if text[i + 1 : k] in names:
            j = k
            while j < n and text[j] == " ":
                j += 1
            close = pairs.get(j) if j < n and text[j] == "{" else None
            if close is not None:
                drop.add(close)
                i = j + 1
                continue
        out.append(text[i:k])
        i = k
    return "".join(out)


def strip_outer_braces(text: str) -> str:
    """Remove braces that wrap the whole string: ``{{5}}`` -> ``5``."""
    while len(text) >= 2 and text[0] == "{" and closing_brace(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside any (), [], {} group. Unbalanced input gives one part."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            # \{ and \} delimit sets: they nest like brackets.
            nxt = text[i + 1 : i + 2]
            depth += 1 if nxt == "{" else -1 if nxt == "}" else 0
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts
