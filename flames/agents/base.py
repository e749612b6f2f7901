"""What every agent shares: its prompt files, one batched LLM call per step, and parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from flames.config import AgentConfig
from flames.files import read_prompt
from flames.llm import LLM, RETRYABLE, Sampling, numbered, request_seed, usage

PROMPT_DIR = Path(__file__).parent / "prompts"
END = "[END]"  # what ends a written problem in the prompts' examples, and a stop string


def load_prompt(name: str) -> str:
    """The prompt file `prompts/<name>.txt`, without its header comment lines (starting with '#')."""
    return read_prompt(PROMPT_DIR / f"{name}.txt")


def prompt_files(agent: type) -> list[Path]:
    """The shipped prompt files of an agent class (`prompts/<name>*.txt`): what its problems depend on besides its
    config (the synthesize key fingerprints them). An agent of your own that reads its prompts elsewhere has none."""
    return sorted(PROMPT_DIR.glob(f"{agent.name}*.txt")) if agent.name else []


def fill(template: str, **values: str) -> str:
    """`template` with each `{name}` replaced in one pass; other braces (LaTeX in examples) stay."""
    names = "|".join(re.escape(name) for name in values)
    return re.sub(r"\{(%s)\}" % names, lambda m: str(values[m.group(1)]), template)


def work_id(item: dict) -> str:
    """The id of one work item (an input of an agent): the input's id, with `@<draw>` from the second draw on."""
    return f"{item['id']}@{item['draw']}" if item.get("draw") else item["id"]


class Reply(str):
    """A step's reply text; `error` names why the request got none (a prompt too long for the model's
    context): the empty text parses as nothing, and `Agent.drop` records this reason instead."""

    error: str | None = None

    @classmethod
    def of(cls, gen) -> "Reply":
        reply = cls(gen.texts[0])
        reply.error = gen.error
        return reply


@dataclass
class ChunkResult:
    """What one chunk of seeds produced: problems, and dropped items with reasons."""

    problems: list[dict] = field(default_factory=list)
    drops: list[tuple[dict, str]] = field(default_factory=list)


class Agent:
    """Base class. A subclass implements `run_chunk(inputs)` in terms of `self.step(...)`.

    Inputs are seed problems for seeded agents; an agent that starts elsewhere (a taxonomy,
    a fine-tuned generator) makes its own in `prepare`.
    """

    name = ""
    Config: type = AgentConfig  # the schema of its conf/agent/<name>.yaml (subclass it for agent knobs)
    uses_llm = True  # False: rule-based, the pipeline loads no problem model for it
    # True: the agent samples from a model fine-tuned for it (QFT); the `tune` stage trains that model
    # as its own job on `generator_data` with the config's `train` settings, and synthesize loads it
    tunes_generator = False
    # seed -> the most distinct problems draws of it can give (None: no cap but agent.max_draws); the dry run's
    # capacity check sums it over the seeds (flames.feasibility)
    problems_per_seed: Callable[[dict], int] | None = None
    # True: its problems keep their seed's answer (a rewrite that changes no quantity): the difficulty scorer
    # measures the solve rate against that gold answer instead of the samples' majority (flames.scores)
    keeps_answer = False
    # A reply ends at END (the prompts' examples end with it) or where a model starts another few-shot
    # example; never at a blank line, which 10% of MATH train problems hold (tests/agents/test_end_marker.py)
    stop: tuple[str, ...] = (END, "\nQuestion:")

    def __init__(self, cfg: Any, llm: LLM, sampling: Sampling, log_call: Callable[..., None] | None = None,
                 model_cfg: Any = None, generator: str | None = None):
        self.cfg = cfg
        self.name = getattr(cfg, "name", None) or type(self).name  # the config's label (a variant's own)
        self.llm = llm
        self.sampling = sampling
        self.model_cfg = model_cfg  # the problem model's config (agents that load or train a model need it)
        self.log_call = log_call or (lambda **_: None)
        self.generator = generator  # the folder of the model the tune stage fine-tuned (tunes_generator)

    def generator_data(self, seeds: list[dict]) -> list[dict]:
        """Training rows ({id, problem, solution}) for the generator the tune stage fine-tunes."""
        raise NotImplementedError(f"{type(self).__name__} does not tune a generator")

    def prepare(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """The inputs `run_chunk` consumes, each with a unique `id`. Seeded agents: the seeds."""
        return seeds

    def run_chunk(self, inputs: list[dict]) -> ChunkResult:
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------
    def step(self, step: str, prompts: list[str], stop: tuple[str, ...] | None = None,
             max_new_tokens: int | None = None, keys: list[str] | None = None) -> list[str]:
        """One batched LLM call: a user message per prompt, one completion each.

        `max_new_tokens` caps this step below the agent's budget (a short list needs fewer tokens).
        `keys[i]` names request i (`request_key` of its input); its sampling seed derives from the
        base seed, the agent, the step, the key and the prompt, so draws and rounds differ and a
        resumed run (same inputs, same earlier replies) asks the same.
        """
        stop = self.stop if stop is None else stop
        sampling = replace(self.sampling, stop=stop)
        if max_new_tokens is not None:
            sampling = replace(sampling, max_new_tokens=min(max_new_tokens, sampling.max_new_tokens))
        # the prompt too: a later round's request for the same input (another prompt) samples afresh
        seeds = None if keys is None else [request_seed(sampling.seed, self.name, step, k, n, p)
                                           for (k, n), p in zip(numbered(keys), prompts)]
        gens = self.llm.chat([[{"role": "user", "content": p}] for p in prompts], sampling, seeds)
        self.log_call(step=step, **usage(gens))
        return [Reply.of(g) for g in gens]

    def step_items(self, step: str, items: list[dict], prompt_of: Callable[[dict], str],
                   parse: Callable[[dict, str], tuple[Any, str | None]], out: ChunkResult,
                   stop: tuple[str, ...] | None = None, max_new_tokens: int | None = None) -> list[tuple[dict, Any]]:
        """One batched call over `items`; returns (item, parsed) for replies that parse, drops the rest.

        `parse(item, reply)` returns (value, None) or (None, drop reason). Items are dicts with
        a `seed` (the input they came from); a drop is recorded once, with the step's name.
        """
        if not items:
            return []
        replies = self.step(step, [prompt_of(it) for it in items], stop, max_new_tokens,
                            keys=[self.request_key(it["seed"]) for it in items])
        kept = []
        for it, reply in zip(items, replies):
            value, reason = (None, reply.error) if reply.error else parse(it, reply)
            if reason:
                self.drop(out, it["seed"], reason, step=step, raw=reply)
            else:
                kept.append((it, value))
        return kept

    def drop(self, out: ChunkResult, seed: dict, reason: str, suffix: str | None = None, **details) -> None:
        """Record a dropped item (its id, what the model said) with a counted reason; a request the backend
        did not answer (its `raw` a Reply with an error) is counted under that error whatever its parse said."""
        reason = getattr(details.get("raw"), "error", None) or reason
        row = {"id": self.problem_id(seed, suffix), **details}
        if reason in RETRYABLE:  # a failed request: synthesize redoes this input in a later run
            row["input"] = work_id(seed)
        out.drops.append((row, reason))

    def request_key(self, seed: dict) -> str:
        """What identifies requests made for one input: its id and draw."""
        return f"{seed['id']}@{seed.get('draw') or 0}"

    def problem_id(self, seed: dict, suffix: str | None = None) -> str:
        draw = f"@{seed['draw']}" if seed.get("draw") else ""  # later draws of one seed: distinct ids
        return f"{self.name}-{seed['id']}{draw}" + (f"-{suffix}" if suffix is not None else "")

    def problem_record(self, seed: dict, problem: str, suffix: str | None = None, **intermediate) -> dict:
        """A synthesized problem with its provenance; `suffix` tells apart several problems from one input."""
        return {
            "id": self.problem_id(seed, suffix),
            "problem": problem,
            "agent": self.name,
            # inputs that are not seeds (taxonomy topics) say so with an empty `seed_ids`
            "seed_ids": list(seed["seed_ids"] or []) if "seed_ids" in seed else [seed["id"]],
            "seed_dataset": seed.get("dataset"),
            "seed_answer": seed.get("answer"),
            "draw": seed.get("draw") or 0,  # which pass over the seeds made it (several problems per seed)
            **({"taxonomy_path": seed["taxonomy_path"]} if seed.get("taxonomy_path") else {}),
            "intermediate": intermediate,
        }


_LABEL = re.compile(
    r"^\s*(\*\*)?\s*(rephrase the above question|with a distraction|"
    r"(new|rewritten|rephrased|paraphrased|revised|modified|updated)?\s*(math\s+)?(problem|question)\s*(\d+)?)"
    r"\s*:\s*(\*\*)?\s*", re.IGNORECASE)
_CUT = re.compile(r"\n\s*(\*\*)?\s*(solution|answer|explanation|step 1|note)\b", re.IGNORECASE)


def clean_problem(text: str, min_chars: int = 20, max_chars: int = 2000) -> tuple[str | None, str | None]:
    """Extract a problem statement from a model's reply: (problem, None) or (None, drop reason)."""
    text = text.split(END, 1)[0].strip().strip("`").strip()  # a backend that keeps the stop string
    text = _CUT.split(text, maxsplit=1)[0]
    text = _LABEL.sub("", text, count=1).strip().strip('"').strip()
    if not text:
        return None, "empty"
    if len(text) < min_chars:
        return None, "too_short"
    if len(text) > max_chars:
        return None, "too_long"
    if _SOLVED.search(text):
        return None, "solved_instead"  # the model answered the problem instead of writing one
    if not _ASKS.search(text):
        return None, "no_question"  # a problem must ask for something
    return text, None


_SOLVED = re.compile(r"answer is|\\boxed|final answer", re.IGNORECASE)
_ASKS = re.compile(r"\?|\b(find|compute|determine|evaluate|solve|simplify|calculate|express|show|prove|"
                   r"what|how|which|give)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers_in(text: str) -> list[str]:
    return _NUMBER.findall(text.replace(",", ""))


def keeps_numbers(seed_problem: str, problem: str) -> bool:
    """Every quantity of the seed appears in the new problem (rephrasings must not lose one)."""
    return set(numbers_in(seed_problem)) <= set(numbers_in(problem))


def first_labelled(text: str, labels: Iterable[str]) -> str | None:
    """The text after the first line that starts with one of `labels` (e.g. "Problem:"), to the end."""
    pattern = r"^\s*(\*\*)?\s*(?:%s)\s*:\s*(\*\*)?" % "|".join(re.escape(label) for label in labels)
    m = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    return text[m.end():].strip() if m else None
