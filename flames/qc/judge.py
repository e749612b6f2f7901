"""The solvability judge: an LLM decides whether each synthetic problem is well-posed and solvable.

The paper's "Solvability + RM" strategy: "a Qwen model judges whether the problem is
solvable" (the exact model and prompt are not given). Here the judge is any configured
LLM (default: the problem model), asked with prompts/solvability.txt for one short reason
and a line "Verdict: solvable" or "Verdict: unsolvable". A reply without exactly one kind
of verdict is *unparseable*: the caller drops that problem with its own reason, so a
chatty or broken judge shows up in the drop counts instead of crashing the stage.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

from flames.jsonl import read_jsonl
from flames.files import append_jsonl, read_prompt
from flames.llm import LLM, Sampling, usage
from flames.store import RecordWriter

log = logging.getLogger(__name__)

PROMPT_FILE = Path(__file__).parent / "prompts" / "solvability.txt"
SOLVABLE, UNSOLVABLE = "solvable", "unsolvable"
# "Verdict: solvable", "**Verdict:** Unsolvable", "verdict - not solvable", ...
_VERDICT = re.compile(r"verdict\W{0,6}(not\s+solvable|unsolvable|solvable)\b", re.IGNORECASE)
# The few-shot prompt asks for one paragraph; stop before the model invents the next example.
STOP = ("\nProblem:",)


def load_prompt() -> str:
    """The judge prompt without its header comment lines."""
    return read_prompt(PROMPT_FILE)


def parse_verdict(reply: str) -> str | None:
    """SOLVABLE, UNSOLVABLE, or None when the reply has no verdict or verdicts that disagree."""
    found = {SOLVABLE if v.lower() == SOLVABLE else UNSOLVABLE for v in _VERDICT.findall(reply)}
    return found.pop() if len(found) == 1 else None


class SolvabilityJudge:
    """Judges problems in batched calls, one per `chunk_size` problems.

    Verdicts are appended to <artifact>/judge.jsonl after each call, so a killed stage
    resumes without judging a problem twice.
    """

    def __init__(self, llm: LLM, sampling: Sampling, chunk_size: int = 256):
        self.llm = llm
        self.sampling = replace(sampling, n=1, stop=STOP)
        self.chunk_size = chunk_size

    def judge(self, problems: list[dict], writer: RecordWriter) -> dict[str, dict]:
        """Problem id -> {"verdict": SOLVABLE | UNSOLVABLE | None, "raw": the reply[, "error": why unsent]}."""
        path = writer.folder / "judge.jsonl"
        done = {r["id"]: r for r in read_jsonl(path)} if path.exists() else {}
        todo = [p for p in problems if p["id"] not in done]
        if done:
            log.info("solvability judge: %d verdicts already saved, %d to go", len(done), len(todo))
        template = load_prompt()
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            # str.replace, not format: problems are full of LaTeX braces.
            convs = [[{"role": "user", "content": template.replace("{problem}", p["problem"])}] for p in chunk]
            gens = self.llm.chat(convs, self.sampling)
            writer.log_call(step="judge", **usage(gens))
            rows = [{"id": p["id"], "verdict": parse_verdict(g.texts[0]), "raw": g.texts[0],
                     **({"error": g.error} if g.error else {})} for p, g in zip(chunk, gens)]
            append_jsonl(path, rows)
            done.update((r["id"], r) for r in rows)
        # a request not sent (prompt_too_long) has no verdict and says why
        return {p["id"]: {k: done[p["id"]][k] for k in ("verdict", "raw", "error") if k in done[p["id"]]}
                for p in problems}
