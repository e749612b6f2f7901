"""The transformers backend on the embedded model: completions, token counts, token-limit flags.

No assertion here depends on what the model says (greedy outputs differ between CPUs). They rest
on one property of greedy decoding: the same batch under a smaller budget repeats the first tokens
of a free run. A free run of L tokens (its EOS included) thus predicts every shorter-budget run:
`min(L, budget)` tokens, flagged exactly when L > budget. (Only the same batch: run alone, a
request may decode otherwise, padding changes the numerics.)
"""

import pytest

from flames.llm import Sampling, usage

pytestmark = pytest.mark.slow  # loads SmolLM2-135M (seconds; the conversion once per cache)

FREE = 48  # the free runs' budget; every budget predicted from one is smaller


@pytest.fixture(scope="module")
def smollm2():
    from flames.llm.embedded import resolve_model_path
    from flames.llm.hf import HFModel

    return HFModel(resolve_model_path("embedded:smollm2-135m-instruct"), dtype="bfloat16", batch_size=8)


def chat(text):
    return [{"role": "user", "content": text}]


def greedy(max_new_tokens, stop=()):
    return Sampling(temperature=0.0, max_new_tokens=max_new_tokens, stop=stop)


def free_lengths(smollm2, reqs, free=FREE):
    """Tokens of each request's free (greedy, `free`-budget) completion; those under `free` ended with EOS."""
    gens = smollm2.chat(reqs, greedy(free))
    lengths = [g.completion_tokens[0] for g in gens]
    assert all(1 <= n <= free for n in lengths)
    assert all(not g.truncated[0] for g, n in zip(gens, lengths) if n < free)  # ended before the limit
    return lengths


def assert_budget_predicted(smollm2, reqs, lengths, budget, free=FREE):
    """Rerun `reqs` with `budget` < `free`: per request, the counts and flags the free run predicts."""
    assert budget < free
    gens = smollm2.chat(reqs, greedy(budget))
    assert [g.completion_tokens[0] for g in gens] == [min(n, budget) for n in lengths], budget
    assert [g.truncated[0] for g in gens] == [n > budget for n in lengths], budget
    assert usage(gens)["truncated"] == sum(n > budget for n in lengths)
    return gens


def test_a_completion_cut_by_max_new_tokens_is_flagged(smollm2):
    long_task = [chat("Write a long story about a dragon who learns arithmetic. Use at least ten paragraphs.")]
    (n_free,) = free_lengths(smollm2, long_task, free=7)
    if n_free < 2:
        pytest.skip("the model ended its reply at the first token: nothing to cut")
    budget = min(6, n_free - 1)  # the free run went on past it without an EOS
    (gen,) = assert_budget_predicted(smollm2, long_task, [n_free], budget, free=7)
    assert gen.completion_tokens == [budget] and gen.truncated == [True] and usage([gen])["truncated"] == 1


def test_a_completion_that_ends_or_stops_is_not_flagged(smollm2):
    # Ended with EOS: rerun with the budget set to exactly its length. The budget is used up, yet the
    # last token is the EOS, so it is not a truncation.
    short = [chat("Reply with the single word: yes")]
    (n_free,) = free_lengths(smollm2, short)
    if n_free < FREE:  # else it rambled on to the limit (the mixed batch has other short prompts)
        (gen,) = assert_budget_predicted(smollm2, short, [n_free], n_free)
        assert gen.completion_tokens == [n_free] and gen.truncated == [False]

    # A stop string ends the completion early: not a truncation, and the stop string is cut off.
    # It is taken from the model's own free reply, so it is sure to occur there.
    story = [chat("Count from one to thirty in words, separated by commas.")]
    (free,) = smollm2.chat(story, greedy(32))
    stop = early_substring(free.texts[0])
    if stop is None:
        pytest.skip(f"no stop string to take from the reply {free.texts[0]!r}")
    (stopped,) = smollm2.chat(story, greedy(32, stop=(stop,)))
    assert stopped.truncated == [False] and stop not in stopped.texts[0]
    assert free.texts[0].startswith(stopped.texts[0])  # the same reply, cut before the stop string
    assert stopped.completion_tokens[0] <= free.completion_tokens[0]


def early_substring(text: str) -> str | None:
    """Two printable ASCII characters, no space, from the first half of `text`, ending before its end."""
    for i in range(len(text) // 4, len(text) // 2 + 1):
        s = text[i:i + 2]
        if len(s) == 2 and s.isascii() and s.isprintable() and " " not in s and text.find(s) + 2 < len(text):
            return s
    return None


def test_flags_follow_each_request_in_a_mixed_batch(smollm2):
    """Batched and length-sorted: each flag stays with its own request.

    The longest prompt comes first, so sorting reorders the batch. The budget is set to the shortest
    free reply: that request ends with its EOS just within it, every longer one is cut.
    """
    reqs = [chat("Write a long essay about the history of algebra, from Babylon to the present day."),
            chat("Reply with the single word: yes"), chat("Name a colour.")]
    lengths = free_lengths(smollm2, reqs)
    shortest = min(lengths)
    budget = shortest if shortest < FREE else FREE // 2
    gens = assert_budget_predicted(smollm2, reqs, lengths, budget)
    if shortest < max(lengths):  # the replies differ in length: both kinds of flag are in one batch
        assert any(g.truncated[0] for g in gens) and not all(g.truncated[0] for g in gens)


def test_a_prompt_longer_than_the_context_is_refused_not_sent(smollm2):
    """SmolLM2 has 8,192 positions: a 9,000-token prompt would allocate for all of them (a 5 MB one, gigabytes);
    it comes back empty with its reason, and the short request of the same call is answered."""
    from flames.llm import PROMPT_TOO_LONG

    assert smollm2.context_length() == 8192
    gens = smollm2.chat([chat("What is 2 + 3?"), chat("apple " * 9000)], greedy(4))
    assert gens[1].error == PROMPT_TOO_LONG and gens[1].texts == [""] and gens[1].prompt_tokens > 8192
    assert gens[0].error is None and 1 <= gens[0].completion_tokens[0] <= 4
