"""No hidden process state: what a running stage shares with its models and writers is its StageContext, made per
stage and passed along; `flames.llm` and `flames.store` hold only constants, so two stages (or two notebook
calls) in one process cannot see what the other set."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
import types

import pytest
from omegaconf import OmegaConf

import flames.llm
from flames.context import FailureWindow, RetryPolicy, StageContext, TooManyFailures
from flames.jsonl import read_jsonl, write_jsonl
from flames.llm import SERVER_ERROR, Generation, Sampling, StageLLM, refused
from flames.solve import solve

CONSTANT = (str, bytes, int, float, bool, type(None), tuple, frozenset, types.MappingProxyType, re.Pattern,
            logging.Logger, types.ModuleType, type)


def modules() -> list[str]:
    return ["flames.store", "flames.context", "flames.llm",
            *(f"flames.llm.{m.name}" for m in pkgutil.iter_modules(flames.llm.__path__))]


@pytest.mark.parametrize("name", modules())
def test_a_module_of_llm_or_store_holds_only_constants(name):
    module = importlib.import_module(name)
    state = {k: type(v).__name__ for k, v in vars(module).items()
             if not k.startswith("__") and k != "annotations" and not inspect.isroutine(v)
             and not isinstance(v, CONSTANT) and type(v).__module__ != "typing"}
    assert state == {}, f"{name}: module-level state {state} (put it on the StageContext or an object)"


class HalfDown(flames.llm.LLM):
    """Every other request fails with a server error."""

    def _chat(self, conversations, sampling, seeds):
        return [refused(sampling.n, 0, SERVER_ERROR, "503") if i % 2 else
                Generation(texts=["The answer is \\boxed{2}."] * sampling.n, prompt_tokens=1, completion_tokens=[5])
                for i, _ in enumerate(conversations)]


def problems(tmp_path, n=8):
    path = tmp_path / "problems.jsonl"
    write_jsonl(path, [{"id": f"p{i}", "problem": f"What is {i} + 1?"} for i in range(n)])
    return path


def test_two_stages_in_one_process_keep_their_own_policies(tmp_path):
    """A strict stage (a window of 4, no failure allowed) stops; a stage after it in the same process, on the same
    model, runs under its own policy (the default) and does not inherit the strict window, its failures or its
    call count; a stage that does not retry failed rows leaves them, one that does redoes them."""
    model = HalfDown()
    strict = StageContext("solve", RetryPolicy(), FailureWindow(4, 0.0))
    with pytest.raises(TooManyFailures, match="solve: 2 of the last 4"):
        solve(problems(tmp_path), tmp_path / "a", StageLLM(model, strict), Sampling(), "Reason.", chunk_size=4)
    lenient = StageContext("solve", RetryPolicy(retry_failed=False))
    solve(problems(tmp_path), tmp_path / "b", StageLLM(model, lenient), Sampling(), "Reason.",
          chunk_size=4, retry=lenient.retry)
    assert (strict.calls, lenient.calls) == (1, 2)
    failed = [r for r in read_jsonl(tmp_path / "b" / "dropped.jsonl")]
    assert len(failed) == 4 and list(lenient.window.recent) == [False, True] * 4  # its own window, not strict's
    solve(problems(tmp_path), tmp_path / "b", StageLLM(model, lenient), Sampling(), "Reason.",
          chunk_size=4, retry=lenient.retry)  # retry_failed=False: nothing asked again
    assert lenient.calls == 2
    again = StageContext("solve")  # the default policy: the 4 failed rows are asked again
    solve(problems(tmp_path), tmp_path / "b", StageLLM(model, again), Sampling(), "Reason.",
          chunk_size=4, retry=again.retry)
    assert again.calls == 1 and len(list(read_jsonl(tmp_path / "b" / "dropped.jsonl"))) == 4 + 2


def test_a_model_called_outside_a_stage_gets_a_fresh_context_each_call():
    """A notebook's second call does not see the first one's failures: each call without a context gets its own."""
    model = HalfDown()
    for _ in range(3):
        gens = model.chat([[{"role": "user", "content": "1 + 1?"}]] * 600, Sampling())
        assert sum(g.error == SERVER_ERROR for g in gens) == 300  # 50% of a full window of 500: past 0.2 next time
    assert model.requests_file is None


def test_a_stage_closing_its_model_leaves_the_pool_s_model_open_for_the_next_stage(monkeypatch):
    """solution_qc closes its models when it ends; a judge shared through the pool (the problem model) must stay
    usable for the next agent's solution_qc, and only `release` closes it."""
    closed = []

    class Closable(HalfDown):
        def close(self):
            closed.append(self)

    monkeypatch.setattr(flames.llm, "load_llm", lambda cfg: Closable())
    pool = flames.llm.ModelPool()
    cfg = OmegaConf.create({"backend": "hf", "name": "m", "dtype": "auto"})
    first = flames.llm.for_stage(StageContext("solution_qc", models=pool), cfg)
    first.close()
    second = flames.llm.for_stage(StageContext("solution_qc", models=pool), cfg)
    assert second.model is first.model and closed == []
    pool.release()
    assert closed == [first.model] and pool.models == {}
