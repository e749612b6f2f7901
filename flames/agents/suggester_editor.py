"""Suggester-Editor (Orca-Math / AgentInstruct): make a problem more complex in rounds. Two steps a round.

Each round: a Suggester lists ways to make the problem more complex without solving it (step
`suggest`), then an Editor rewrites the problem following the suggestions (step `edit`). Round 2
works on round 1's problem. Orca-Math ran two rounds and dropped problems over 1,800 characters;
how many rounds FLAMES ran is NOT FOUND (config `rounds`, default 2). A problem that fails any
round is dropped (only the problem after the last round is an output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt
from flames.config import AgentConfig


@dataclass
class SuggesterEditorConfig(AgentConfig):
    rounds: int = 2  # suggest+edit rounds; each works on the previous round's problem (Orca-Math: 2)
    max_chars: int = 1800  # longer edited problems are dropped (Orca-Math's filter)
    suggest_tokens: int = 64  # token cap of the suggest step (one line of suggestions)


_SOLVED = re.compile(r"answer is|\\boxed|final answer", re.IGNORECASE)


def parse_suggestions(reply: str) -> tuple[str | None, str | None]:
    """One line of suggestions; the Suggester must not solve the problem or write the new one."""
    text = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    if not text:
        return None, "empty"
    if len(text) < 10:
        return None, "too_short"
    if _SOLVED.search(text):
        return None, "solved_instead"
    return text, None


class SuggesterEditor(Agent):
    name = "suggester_editor"
    Config = SuggesterEditorConfig
    stop = ("\n\n", "\nProblem:", "\nSuggestions:")

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
        suggested = self.step_items("suggest", items, lambda it: suggest.format(problem=it["problem"]),
                                    lambda it, reply: parse_suggestions(reply), out,
                                    stop=("\n",), max_new_tokens=self.cfg.suggest_tokens)
        items = [{**it, "suggestions": s} for it, s in suggested]

        def parse_edit(item: dict, reply: str):
            problem, reason = clean_problem(reply, max_chars=self.cfg.max_chars)
            if problem and problem.strip() == item["problem"].strip():
                return None, "unchanged"
            if problem and problem.strip() in edit:
                return None, "copied_example"  # a tiny model may repeat an exemplar
            return problem, reason

        edited = self.step_items("edit", items, lambda it: edit.format(
            problem=it["problem"], suggestions=it["suggestions"]), parse_edit, out)
        return [{"seed": it["seed"], "problem": new,
                 "rounds": it["rounds"] + [{"suggestions": it["suggestions"], "problem": new}]}
                for it, new in edited]
