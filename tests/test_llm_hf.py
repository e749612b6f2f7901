"""The transformers backend on the embedded model: completions, token counts, token-limit flags.

No assertion here depends on what the model says (greedy outputs differ between CPUs, issue 23). The
model is steered instead (`steered`): a logits processor added to its `generate` decides, per request,
at which token the reply ends with the EOS, or that it never does (the EOS, like every special token, is
then unreachable). The model still picks every other token; what the backend makes of the output (token
counts, the token-limit flag, stop strings cut off, each result back with its request) is then certain.
"""

import re
from contextlib import contextmanager

import pytest

from flames.llm import Sampling, usage

pytestmark = pytest.mark.slow  # loads SmolLM2-135M (seconds; the conversion once per cache)

NEVER = None  # a request whose reply never ends by itself: only the token budget stops it


@pytest.fixture(scope="module")
def smollm2():
    from flames.llm.embedded import resolve_model_path
    from flames.llm.hf import HFModel

    return HFModel(resolve_model_path("embedded:smollm2-135m-instruct"), dtype="bfloat16", batch_size=8)


def chat(text):
    return [{"role": "user", "content": text}]


def greedy(max_new_tokens, stop=()):
    return Sampling(temperature=0.0, max_new_tokens=max_new_tokens, stop=stop)


@contextmanager
def steered(smollm2, ends: dict, words_only: bool = False):
    """Within the block, a request whose prompt contains a key of `ends` ends its reply with the EOS as its
    token number `ends[key]` (NEVER: it does not end). Before that the special tokens (EOS, padding, chat
    markers) cannot be chosen; with `words_only`, neither can any token that is not printable ASCII with a
    letter or digit in it (so the decoded reply has words to take a stop string from).

    The shared model gets a wrapped `generate`; the original is restored on leaving, also on a failure."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    tok, model = smollm2.tok, smollm2.model
    banned = set(tok.all_special_ids) | {tok.eos_token_id, tok.pad_token_id}
    if words_only:
        vocab = model.get_output_embeddings().weight.shape[0]
        banned |= {i for i in range(vocab) if not _wordy(tok.decode([i]))}
    banned = torch.tensor(sorted(banned))

    class EndAt(LogitsProcessor):
        def __init__(self, prompt_len, plan):
            self.prompt_len, self.plan = prompt_len, plan

        def __call__(self, input_ids, scores):
            assert input_ids.shape[0] == len(self.plan)  # one reply per request (n=1)
            step = input_ids.shape[1] - self.prompt_len  # this token's index in the reply
            scores = scores.clone()
            for row, end in enumerate(self.plan):
                if end is not NEVER and step == end - 1:
                    scores[row] = -float("inf")
                    scores[row, tok.eos_token_id] = 0.0
                else:
                    scores[row, banned] = -float("inf")
            return scores

    generate = model.generate

    def generate_steered(**kwargs):
        prompts = tok.batch_decode(kwargs["input_ids"], skip_special_tokens=True)
        plan = []
        for p in prompts:
            (end,) = [e for key, e in ends.items() if key in p]  # every request is planned, once
            plan.append(end)
        steer = LogitsProcessorList([EndAt(kwargs["input_ids"].shape[1], plan)])
        return generate(**kwargs, logits_processor=steer)

    model.generate = generate_steered
    try:
        yield
    finally:
        del model.generate  # the class's method again


def _wordy(piece: str) -> bool:
    return piece.isascii() and piece.isprintable() and any(c.isalnum() for c in piece)


def test_a_completion_cut_by_max_new_tokens_is_flagged(smollm2):
    long_task = [chat("Write a long story about a dragon who learns arithmetic. Use at least ten paragraphs.")]
    with steered(smollm2, {"dragon": NEVER}):
        (gen,) = smollm2.chat(long_task, greedy(6))
    assert gen.completion_tokens == [6] and gen.truncated == [True] and usage([gen])["truncated"] == 1


def test_a_completion_that_ends_or_stops_is_not_flagged(smollm2):
    short = [chat("Reply with the single word: yes")]
    with steered(smollm2, {"yes": 3}):
        (early,) = smollm2.chat(short, greedy(8))
        # The EOS as the last token of the budget: the budget is used up, yet the reply ended; not a truncation.
        (at_limit,) = smollm2.chat(short, greedy(3))
    assert early.completion_tokens == [3] and early.truncated == [False]  # the EOS is counted
    assert at_limit.completion_tokens == [3] and at_limit.truncated == [False] and usage([at_limit])["truncated"] == 0

    # A stop string ends the completion early: not a truncation, and the stop string is cut off. It is the
    # last word of the first 16 tokens of the same reply, so it occurs within them: the rerun with a budget
    # of 32 stops there (greedy: the same request repeats its tokens).
    story = [chat("Count from one to thirty in words, separated by commas.")]
    with steered(smollm2, {"thirty": NEVER}, words_only=True):
        (first,) = smollm2.chat(story, greedy(16))
        stop = re.findall(r"[A-Za-z0-9]+", first.texts[0])[-1]  # every token has a letter or digit
        (stopped,) = smollm2.chat(story, greedy(32, stop=(stop,)))
    assert first.completion_tokens == [16] and first.truncated == [True]
    assert stopped.truncated == [False] and 1 <= stopped.completion_tokens[0] <= 16  # ended early, by the stop
    assert stopped.texts[0] == first.texts[0][:first.texts[0].find(stop)].strip()  # cut before the stop string


def test_flags_follow_each_request_in_a_mixed_batch(smollm2):
    """Batched and length-sorted: each count and flag stays with its own request. The longest prompt comes
    first, so sorting reorders the batch; one reply is cut, one ends early, one ends with the EOS exactly at
    the limit (not cut), one ends in between."""
    reqs = [chat("Write a long essay about the history of algebra, from Babylon to the present day."),
            chat("Reply with the single word: yes"), chat("Name a colour."), chat("Count to three.")]
    plan = {"algebra": NEVER, "yes": 2, "colour": 6, "three": 4}
    with steered(smollm2, plan):
        gens = smollm2.chat(reqs, greedy(6))
    assert [g.completion_tokens[0] for g in gens] == [6, 2, 6, 4]
    assert [g.truncated[0] for g in gens] == [True, False, False, False]
    assert usage(gens)["truncated"] == 1


def test_a_prompt_longer_than_the_context_is_refused_not_sent(smollm2):
    """SmolLM2 has 8,192 positions: a 9,000-token prompt would allocate for all of them (a 5 MB one, gigabytes);
    it comes back empty with its reason, and the short request of the same call is answered."""
    from flames.llm import PROMPT_TOO_LONG

    assert smollm2.context_length() == 8192
    gens = smollm2.chat([chat("What is 2 + 3?"), chat("apple " * 9000)], greedy(4))
    assert gens[1].error == PROMPT_TOO_LONG and gens[1].texts == [""] and gens[1].prompt_tokens > 8192
    assert gens[0].error is None and 1 <= gens[0].completion_tokens[0] <= 4
