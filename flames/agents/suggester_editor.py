"""Suggester-Editor (Orca-Math / AgentInstruct): make a problem more complex in rounds. Two steps a round.

Each round: a Suggester lists several ways to make the problem more complex without solving it
(step `suggest`, one suggestion per line), then an Editor rewrites the problem applying all of them
(step `edit`). Round 2 works on round 1's problem. Orca-Math ran two rounds and dropped problems
over 1,800 characters; how many rounds FLAMES ran is NOT FOUND (config `rounds`, default 2). A
problem that fails any round is dropped (only the problem after the last round is an output).

`suggestion_lines` and `suggest_tokens` size the Suggester: the paper setting keeps every line of
its list within the agent's token budget; the quickstart stops SmolLM2-135M after its first line
(one suggestion, at most 48 tokens), which keeps its CPU time per chunk short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from flames.agents.base import END, Agent, ChunkResult, clean_problem, load_prompt
from flames.config import COUNT, AgentConfig, num


@dataclass
class SuggesterEditorConfig(AgentConfig):
    """Defaults are the paper-scale values (experiment=paper); conf/agent/suggester_editor.yaml sets the quickstart's."""

    rounds: int = num(2, COUNT)  # suggest+edit rounds; each works on the previous round's problem (Orca-Math: 2)
    max_chars: int = num(1800, COUNT)  # longer edited problems are dropped (Orca-Math's filter)
    suggestion_lines: Optional[int] = num(None, COUNT)  # lines of the Suggester's list kept (one suggestion each); None = all
    suggest_tokens: Optional[int] = num(None, COUNT)  # token cap of the suggest step; None = the agent's budget


LIST_STOP = ("\nProblem:", "\nNew problem:", "\nSuggestions:")  # a list may hold blank lines; stop at a new field
_SOLVED = re.compile(r"answer is|\\boxed|final answer", re.IGNORECASE)
_SUGGESTIONS_LABEL = re.compile(r"^\s*(\*\*)?\s*suggestions\s*:\s*(\*\*)?\s*", re.IGNORECASE)


def parse_suggestions(reply: str, max_lines: int | None = None) -> tuple[list[str] | None, str | None]:
    """The Suggester's list, one suggestion a line (at most `max_lines`); it must not solve the problem."""
    lines = [line.strip() for line in _SUGGESTIONS_LABEL.sub("", reply.strip()).splitlines() if line.strip()]
    lines = lines[:max_lines]
    text = " ".join(lines)
    if not text:
        return None, "empty"
    if len(text) < 10:
        return None, "too_short"
    if _SOLVED.search(text):
        return None, "solved_instead"
    return lines, None


class SuggesterEditor(Agent):
    name = "suggester_editor"
    Config = SuggesterEditorConfig
    stop = (END, "\nProblem:", "\nSuggestions:")

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        out = ChunkResult()
        items = [{"seed": s, "problem": s["problem"], "rounds": []} for s in seeds]
        for _ in range(self.cfg.rounds):
            items = self.edit_round(items, out)
        for item in items:
            out.problems.append(self.problem_record(item["seed"], item["problem"], rounds=item["rounds"]))
        return out

    def edit_round(self, items: list[dict], out: ChunkResult) -> list[dict]:
        """One round over all pending items: one batched `suggest` call, one batched `edit` call."""
        suggest, edit = load_prompt(f"{self.name}_suggest"), load_prompt(f"{self.name}_edit")
        lines = self.cfg.suggestion_lines
        suggested = self.step_items("suggest", items, lambda it: suggest.format(problem=it["problem"]),
                                    lambda it, reply: parse_suggestions(reply, lines), out,
                                    stop=("\n",) if lines == 1 else LIST_STOP, max_new_tokens=self.cfg.suggest_tokens)
        items = [{**it, "suggestions": s} for it, s in suggested]

        def parse_edit(item: dict, reply: str):
            problem, reason = clean_problem(reply, max_chars=self.cfg.max_chars)
            if problem and problem.strip() == item["problem"].strip():
                return None, "unchanged"
            if problem and problem.strip() in edit:
                return None, "copied_example"  # a tiny model may repeat an exemplar
            return problem, reason

        edited = self.step_items("edit", items, lambda it: edit.format(
            problem=it["problem"], suggestions="\n".join(it["suggestions"])), parse_edit, out)
        return [{"seed": it["seed"], "problem": new,
                 "rounds": it["rounds"] + [{"suggestions": it["suggestions"], "problem": new}]}
                for it, new in edited]
