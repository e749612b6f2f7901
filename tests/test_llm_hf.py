"""The transformers backend on the embedded model: completions, token counts, token-limit flags."""

import pytest

from flames.llm import Sampling, usage

pytestmark = pytest.mark.slow  # loads SmolLM2-135M (seconds; the conversion once per cache)


@pytest.fixture(scope="module")
def smollm2():
    from flames.llm.embedded import resolve_model_path
    from flames.llm.hf import HFModel

    return HFModel(resolve_model_path("embedded:smollm2-135m-instruct"), dtype="bfloat16", batch_size=8)


def chat(text):
    return [{"role": "user", "content": text}]


def test_a_completion_cut_by_max_new_tokens_is_flagged(smollm2):
    long_task = chat("Write a long story about a dragon who learns arithmetic. Use at least ten paragraphs.")
    (gen,) = smollm2.chat([long_task], Sampling(temperature=0.0, max_new_tokens=6))
    assert gen.completion_tokens == [6] and gen.truncated == [True] and usage([gen])["truncated"] == 1


def test_a_completion_that_ends_or_stops_is_not_flagged(smollm2):
    short = chat("Reply with the single word: yes")
    (ended,) = smollm2.chat([short], Sampling(temperature=0.0, max_new_tokens=64))
    assert ended.completion_tokens[0] < 64 and ended.truncated == [False]
    # a stop string ends the completion early: not a truncation, and the stop string is cut off
    story = chat("Count from one to thirty in words, separated by commas.")
    (stopped,) = smollm2.chat([story], Sampling(temperature=0.0, max_new_tokens=64, stop=(",",)))
    assert stopped.truncated == [False] and "," not in stopped.texts[0]


def test_flags_follow_each_request_in_a_mixed_batch(smollm2):
    """Batched and length-sorted: each flag stays with its own request."""
    reqs = [chat("Write a long essay about the history of algebra."), chat("Reply with the single word: yes")]
    gens = smollm2.chat(reqs, Sampling(temperature=0.0, max_new_tokens=48))  # the short reply ends at 32
    assert gens[0].truncated == [True] and gens[1].truncated == [False]
