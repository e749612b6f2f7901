"""Text normalization shared by exact dedup, near-dup shingling and decontamination.

Two views of a problem:
- ``normalize_text``: one string, for exact dedup (the paper's rule). Case, Unicode
  compatibility forms, runs of whitespace and sentence punctuation at the ends do not
  make two problems different.
- ``tokenize``: the word tokens that shingles and n-grams are built from. Digits, LaTeX
  command names (``\\frac``) and arithmetic operators stay tokens, because in math
  problems they are what tells two otherwise identical texts apart ("x+1" vs "x-1").
  Brackets, dollars and sentence punctuation are dropped, so formatting edits do not
  change the token sequence.
"""

from __future__ import annotations

import re
import unicodedata

# Characters NFKC leaves alone but writers use interchangeably with ASCII operators.
_FOLD = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00f7": "/", "\u22c5": "*"})

# Sentence punctuation and quotes stripped from the ends of a normalized text. `$`, `)`,
# `}` and `]` stay: they close LaTeX or a formula.
_END_PUNCT = " .,;:!?'\"`"

# Token = optional backslash + letters/digits (a word, a number, a LaTeX command), or a
# single arithmetic operator. Two spellings of the same pattern: the ASCII one is ~40%
# faster and, on lower-cased ASCII text, matches exactly the same tokens.
_ASCII_TOKEN = re.compile(r"\\?[a-z0-9]+|[+\-*/=<>^]")
UNICODE_TOKEN = re.compile(r"\\?[^\W_]+|[+\-*/=<>^]")


def fold(text: str) -> str:
    """NFKC + operator folding + lower case (NFKC only when the text is not ASCII)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).translate(_FOLD).lower()


def normalize_text(text: str) -> str:
    """Normalize a problem for exact dedup.

    Lower-case, Unicode NFKC (full-width digits, ligatures, non-breaking spaces become
    ASCII), whitespace runs collapsed to one space, sentence punctuation and quotes
    stripped from both ends. Digits and LaTeX are kept verbatim.
    """
    return " ".join(fold(text).split()).strip(_END_PUNCT)


def tokenize(text: str) -> list[str]:
    """Word tokens of ``text`` (see the module docstring for what counts as a token)."""
    folded = fold(text)
    if folded.isascii():
        return _ASCII_TOKEN.findall(folded)
    return UNICODE_TOKEN.findall(folded)


_OPERATORS = frozenset("+-*/=<>^")


def is_word(token: str) -> bool:
    """A token of ``tokenize`` that is wording, not math: no ASCII digit, no LaTeX backslash, not an operator.

    Near-copy decontamination tolerates edits of words only: a changed number, operator
    or LaTeX command makes another problem ("\\dbinom{8}{4}" vs "\\dbinom{8}{5}").
    """
    return token[:1] != "\\" and token not in _OPERATORS and not any("0" <= c <= "9" for c in token)
