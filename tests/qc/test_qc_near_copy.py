"""Near-copy decontamination (mode "near_copy"): the paper rule plus a few word edits."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from flames.qc import find_contamination, tokenize
from flames.qc.near_copy import MIN_TOKENS, edit_budget
from flames.qc.normalize import is_word

from tests.qc.test_qc_decontam import _all_refs, brute_force

# ------------------------------------------------------------------ reference implementation

_INF = 10**6


def word_edits(text_tokens: list[str], ref_tokens: list[str]) -> int:
    """Fewest word edits aligning the reference with some stretch of the text (Sellers' DP)."""
    prev = [0] * (len(text_tokens) + 1)
    for r in ref_tokens:
        rw = is_word(r)
        cur = [prev[0] + (1 if rw else _INF)]
        for j, t in enumerate(text_tokens, 1):
            best = prev[j - 1] if t == r else prev[j - 1] + (1 if rw and is_word(t) else _INF)
            best = min(best, prev[j] + (1 if rw else _INF), cur[j - 1] + (1 if is_word(t) else _INF))
            cur.append(best)
        prev = cur
    return min(prev)


def near_copy_brute_force(texts, refs, stop_min_df=10):
    """The rule in plain Python: the paper rule first, else the fewest word edits within budget."""
    paper = brute_force(texts, refs, 8, 0.95, stop_min_df)
    ref_tokens = [tokenize(r) for r in refs]
    out = []
    for text, p in zip(texts, paper):
        if p is not None:
            out.append(p)
            continue
        toks = tokenize(text)
        have = Counter(toks)
        best = None
        for r, rt in enumerate(ref_tokens):
            k = int(edit_budget(len(rt)))
            # A near copy keeps at least L - k of the reference's tokens: skip the DP otherwise.
            if len(rt) < MIN_TOKENS or sum((Counter(rt) & have).values()) < len(rt) - k:
                continue
            e = word_edits(toks, rt)
            if e <= k and (best is None or e < best[0]):
                best = (e, r)
        out.append(best[1] if best else None)
    return out


# ------------------------------------------------------------------ hand-built


def test_word_flags_match_is_word():
    from flames.qc.shingles import hash_texts

    rng = random.Random(2)
    alphabet = list("ab xyz019+-=^\\{}$.,é²ＡΩ_") + [" the ", " \\frac ", " 3x ", "\n"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    texts += ["Compute $\\dbinom{8}{4}$ for x2 and the café ² + a"]
    csr = hash_texts(texts, words=True)
    for i, t in enumerate(texts):
        assert csr.words[csr.offsets[i] : csr.offsets[i + 1]].tolist() == [is_word(w) for w in tokenize(t)], t

_REF = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?"
)  # 29 tokens: one edit allowed
_FILL = "A baker made 36 loaves on Monday."


@pytest.mark.parametrize(
    "edited, caught",
    [
        (_REF.replace("sold clips", "sold pens"), True),  # substitution
        (_REF.replace("then she sold", "then she quickly sold"), True),  # insertion
        (_REF.replace("and then she", "then she"), True),  # deletion
        (_REF.replace("Natalia sold", "Maria sold"), True),  # first word
        (_REF.replace("April and May?", "April and June?"), True),  # last word
        (_REF.replace("48", "49"), False),  # a number is content
        (_REF.replace("half as many", "twice as many").replace("altogether", "in total"), False),  # 3 edits > 1
    ],
)
def test_word_edits_within_budget(edited, caught):
    texts = [f"{_FILL} {edited} Answer briefly.", edited]
    want = [0, 0] if caught else [None, None]
    assert find_contamination(texts, [_REF], "near_copy") == want


def test_paper_rule_misses_a_middle_edit():
    edited = _REF.replace("sold clips", "sold pens")  # breaks 8 of the 22 8-grams
    assert find_contamination([edited], [_REF], "paper") == [None]


def test_math_tokens_must_match():
    refs = ["Compute $\\dbinom{8}{4}$.", "What is $2 + 3 \\times 4$?"]
    texts = [
        "Find $\\dbinom{8}{4}$.",  # wording: caught
        "Compute $\\dbinom{8}{5}$.",  # another number: another problem
        "Compute $\\binom{8}{4}$.",  # another LaTeX command
        "What is $2 - 3 \\times 4$?",  # another operator
        "So what is $2 + 3 \\times 4$ then?",  # contained
    ]
    assert find_contamination(texts, refs, "near_copy") == [0, None, None, None, 1]


def test_budget_grows_with_length():
    words = ["alpha", "beta", "gamma", "delta", "omega"] * 4
    ref = " ".join(f"{w} {i}" for i, w in enumerate(words))  # 40 tokens, a word before each number
    toks = ref.split(" ")
    two = toks[:]
    two[0], two[10] = "zeta", "eta"
    three = two[:]
    three[20] = "theta"
    assert int(edit_budget(len(tokenize(ref)))) == 2
    assert find_contamination([" ".join(two), " ".join(three)], [ref], "near_copy") == [0, None]


def test_short_references_get_no_edit_tolerance():
    ref = "Simplify $\\sqrt{12}$."  # 3 tokens
    assert find_contamination(["Evaluate $\\sqrt{12}$.", "Simplify \\sqrt 12 today"], [ref], "near_copy") == [None, 0]
    ref4 = "Simplify $\\sqrt{12} + 1$."  # 5 tokens
    assert find_contamination(["Evaluate $\\sqrt{12} + 1$."], [ref4], "near_copy") == [0]


def test_paper_attribution_kept_and_fewest_edits_win():
    other = _REF.replace("clips", "pins")  # 4 substitutions away from _REF
    text = _REF.replace("Natalia sold clips", "Natalia sold beads")
    # Both references are candidates; _REF needs 1 edit, `other` needs more.
    assert find_contamination([text], [other, _REF], "near_copy") == [1]
    # A text the paper rule flags keeps the paper rule's answer.
    assert find_contamination([_REF], [other, _REF], "near_copy") == find_contamination([_REF], [other, _REF]) == [1]


def test_empty_and_stats():
    stats = {}
    assert find_contamination([], [_REF], "near_copy") == []
    assert find_contamination(["", _REF], [], "near_copy") == [None, None]
    assert find_contamination(["x"], ["", "?!", "a b"], "near_copy") == [None]
    find_contamination([_REF, _REF.replace("sold clips", "sold pens")], [_REF], "near_copy", stats=stats)
    assert stats["flagged"] == 2 and stats["flagged_by_edit_rule"] == 1


@pytest.mark.parametrize("seed", range(5))
def test_random_edits_match_brute_force(seed):
    rng = random.Random(seed)
    vocab = ["the", "cat", "has", "x", "3", "+", "=", "\\frac", "apples", "7", "of", "a", "-", "total"]
    refs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(2, 45))) for _ in range(25)]
    texts = []
    for _ in range(60):
        toks = tokenize(rng.choice(refs))
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(toks) + 1)
            op = rng.random()
            if op < 0.4 and i < len(toks):
                toks[i] = rng.choice(vocab)
            elif op < 0.7 and i < len(toks):
                del toks[i]
            else:
                toks.insert(i, rng.choice(vocab))
        texts.append(" ".join([rng.choice(vocab) for _ in range(rng.randint(0, 4))] + toks))
    assert find_contamination(texts, refs, "near_copy", stoplist=None) == near_copy_brute_force(texts, refs, None)


# ------------------------------------------------------------------ real benchmarks


def _one_word(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.isalpha() and "$" not in w]
    if not idx:
        return text
    op, i = rng.random(), rng.choice(idx)
    if op < 0.5:
        words[i] = "banana"
    elif op < 0.75:
        del words[i]
    else:
        words.insert(i, "banana")
    return " ".join(words)


@pytest.fixture(scope="module")
def edited_copies(seeds, benchmarks):
    rng = random.Random(11)
    refs, _ = _all_refs(benchmarks)
    filler = [r["problem"] for r in seeds["gsm8k_train"][:400]]
    picks = rng.sample(range(len(refs)), 400)
    texts = [f"{rng.choice(filler)} {_one_word(refs[r], rng)} {rng.choice(filler)}" for r in picks]
    return refs, texts, picks


def test_one_word_edits_of_real_benchmarks_caught(edited_copies):
    refs, texts, picks = edited_copies
    found = find_contamination(texts, refs, "near_copy")
    assert sum(f is not None for f in found) / len(texts) >= 0.99
    assert sum(f is not None for f in find_contamination(texts, refs, "paper")) < 0.5 * len(texts)


def test_matches_brute_force_on_real_data(edited_copies, seeds):
    refs, texts, picks = edited_copies
    rng = random.Random(5)
    keep = sorted(set(picks[:40]) | set(rng.sample(range(len(refs)), 400)))
    sub = [refs[i] for i in keep]
    sample = texts[:40] + [r["problem"] for r in rng.sample(seeds["math_train"], 40)]
    assert find_contamination(sample, sub, "near_copy") == near_copy_brute_force(sample, sub)


def test_real_train_problems_rarely_flagged(seeds, benchmarks):
    """GSM8K train: nothing; MATH train: under 1% (its known test near-duplicates and siblings)."""
    refs, names = _all_refs(benchmarks)
    for name, bound in (("gsm8k_train", 0.001), ("math_train", 0.01)):
        train = [r["problem"] for r in seeds[name]]
        found = find_contamination(train, refs, "near_copy")
        hits = [(i, r) for i, r in enumerate(found) if r is not None]
        print(name, len(hits), Counter(names[r] for _, r in hits))
        for i, r in hits[:10]:
            print(f"  {train[i][:90]!r}\n  ~ {refs[r][:90]!r}")
        assert len(hits) / len(train) < bound


def test_workers_give_the_same_answer_near_copy(edited_copies):
    refs, texts, _ = edited_copies
    many = texts * 4
    two = find_contamination(many, refs, "near_copy", workers=2)
    assert two == find_contamination(many, refs, "near_copy", workers=1)
