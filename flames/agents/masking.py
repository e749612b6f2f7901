"""Hiding a number of a problem behind a variable: shared by FOBAR, Self-Verification and Ask Me Anything."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# A maskable quantity is a whole whitespace token that is just a number, with at most a `$` before
# it (currency, or an inline-math opening in MATH) and closing punctuation, `%` or `$` after it.
# Tokens with letters or operators ("40-item", "3/4", "$2x^2", "(7,") are left alone, as in the
# FOBAR code, which only masks plain numbers: masking inside a formula would change its meaning.
_TOKEN = re.compile(r"(?<!\S)\$?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)[%$.,;:?!'\"”)]*(?!\S)")


@dataclass
class NumberToken:
    start: int  # span of the digits only (the surrounding `$`, `%`, punctuation stay)
    end: int
    text: str  # as written, e.g. "40,000"

    @property
    def value(self) -> str:
        return self.text.replace(",", "")


def number_tokens(text: str) -> list[NumberToken]:
    """The maskable numbers of `text`, in order."""
    return [NumberToken(m.start("num"), m.end("num"), m.group("num")) for m in _TOKEN.finditer(text)]


def maskable_numbers(seed: dict) -> int:
    """The distinct problems a masking agent (FOBAR, Self-Verification) can make of a seed: one per number it
    may hide, each draw hiding another (pick_number). GSM8K train: 3.0 a seed; MATH train: 1.5 (numbers
    inside formulas are never hidden), 3,078 of its 7,500 seeds none."""
    return len(number_tokens(str(seed.get("problem") or "").strip()))


def mask(text: str, token: NumberToken, variable: str) -> str:
    return text[:token.start] + variable + text[token.end:]


def uses_symbol(text: str, symbol: str) -> bool:
    """`symbol` occurs as a variable in `text` ("2x" and "$x$" count; "\\max", "\\times" do not)."""
    return re.search(rf"(?<![A-Za-z\\]){re.escape(symbol)}(?![A-Za-z])", text) is not None


def pick_variable(text: str, dataset: str | None) -> str | None:
    """MetaMathQA's unknown: x for GSM8K, X for MATH; the other one if taken; None if both are."""
    preferred = ["X", "x"] if dataset == "math" else ["x", "X"]
    return next((v for v in preferred if not uses_symbol(text, v)), None)


def pick_number(tokens: list[NumberToken], seed: int, seed_id: str, draw: int = 0) -> NumberToken | None:
    """The number that draw `draw` of a seed problem masks, deterministic per (config seed, seed problem, draw):
    reruns mask the same number, and the draws of a seed go through its numbers without repeating one, so k
    draws of a seed with at least k numbers give k different problems. None once every number has had its draw
    (another would only repeat a problem). Draw 0 is the choice of the releases before draws differed."""
    if draw >= len(tokens):
        return None
    rng = random.Random(f"{seed}:{seed_id}")
    first = rng.choice(range(len(tokens)))  # what rng.choice(tokens) picked: draw 0 unchanged
    rest = [i for i in range(len(tokens)) if i != first]
    random.Random(f"{seed}:{seed_id}:draws").shuffle(rest)
    return tokens[[first, *rest][draw]]
