"""The paper's published numbers per study (from notes/paper.md), and how a cell's row compares with them."""

from __future__ import annotations

from typing import Any

from flames.report.rows import AVG, HIGH, KEPT, LOW, TRAIN, _number


# ---------------------------------------------------------------------------------------------------
# The paper's numbers. Every value is one notes/paper.md gives (in ../shared/notes/, "l." = its line);
# what the notes mark NOT FOUND is left out. `axes` are the study's axis values (conf/study/<name>.yaml)
# that the paper row corresponds to; a row with `compare: False` is no cell of ours (another training set,
# or a model the paper does not name): shown for context, never subtracted. Values use cell_row's keys.


def _ref(axes: dict[str, str], cite: str, label: str = "", compare: bool = True, **values: float) -> dict:
    """One paper row; `values` by short name: kept, train, avg, or a benchmark (its accuracy)."""
    short = {"kept": KEPT, "train": TRAIN, "avg": AVG}
    return {"axes": axes, "cite": cite, "label": label, "compare": compare,
            "values": {short.get(k) or f"eval/{k}/accuracy": v for k, v in values.items()}}


def _qc(strategy: str, fixed_size: str) -> dict[str, str]:
    return {"qc": strategy, "qc.fixed_size": fixed_size}


# FLAMES Small's full row (Table 11), shared by the mixture and the scale studies.
_SMALL = dict(gsm8k=85.2, math=60.0, college_math=41.4, gsmplus_distraction=72.2, gsmplus=74.7,
              olympiadbench=26.1, avg=57.5, train=150_000)

PAPER: dict[str, dict[str, Any]] = {
    "table1_qc": {
        "note": "The paper's Table 1 Avg averages benchmarks the notes could not identify (notes/paper.md "
                "l.170: its ~70-74 is far above the five-benchmark Avg of Table 2, so probably fewer, such as "
                "GSM8K + MATH). Ours is the five-benchmark Avg: its deltas compare two different averages.",
        "rows": [
            # Size allowed to vary: kept from the §4 strategy table (l.163-166), Avg from l.174-176.
            _ref(_qc("strict", "null"), "§4, l.163 and l.174-176", label="Strict", kept=45_000, avg=69.7),
            _ref(_qc("majority", "null"), "§4, l.164 and l.174-176", label="Majority", kept=90_000, avg=72.0),
            _ref(_qc("first", "null"), "§4, l.165 and l.174-176", label="First", kept=150_000, avg=73.0),
            _ref(_qc("majority_first", "null"), "§4, l.166 and l.174-176", label="Majority+First",
                 kept=150_000, avg=73.7),
            # Size fixed at 45K (l.178); the order Strict / Majority / First / Majority+First is the notes'
            # inference (the source lists the four numbers "in the same order as above").
            _ref(_qc("strict", "45000"), "§4, l.178", label="Strict @45K", kept=45_000, avg=69.7),
            _ref(_qc("majority", "45000"), "§4, l.178", label="Majority @45K", kept=45_000, avg=69.1),
            _ref(_qc("first", "45000"), "§4, l.178", label="First @45K", kept=45_000, avg=69.6),
            _ref(_qc("majority_first", "45000"), "§4, l.178", label="Majority+First @45K", kept=45_000, avg=69.8),
        ],
    },
    "table2_agents": {
        "note": "Only four numbers of Table 2 are known (notes/paper.md l.263). Distraction: the paper's set "
                "is presumably GSM-Plus test's distraction items; ours is the 300 of testmini (docs/evaluation.md).",
        "rows": [
            # §3.2: 150K problems per agent (l.127), the student trained on all of them.
            _ref({"agent": "suggester_editor"}, "§3.2, l.127 and l.129", label="Suggester-Editor",
                 train=150_000, avg=57.4),
            _ref({"agent": "iqc"}, "§3.2, l.127 and l.130", label="IQC", train=150_000, avg=56.9),
            _ref({"agent": "taxonomy_key_concepts"}, "§3.2, l.127 and l.131", label="Taxonomy-Based Key Concepts",
                 train=150_000, college_math=40.9),
            _ref({"agent": "distraction_insertion"}, "§3.2, l.127 and l.132", label="Distraction Insertion",
                 train=150_000, gsmplus_distraction=72.4),
        ],
    },
    "table5_models": {
        "note": "MATH5K only (l.215). The weaker teacher is the paper card's DeepSeek-7B-RL, read as "
                "deepseek-math-7b-rl (l.203, our inference); the weaker problem generator is NOT FOUND (l.202), "
                "ours is Qwen2.5-7B-Instruct (our inference), so that row is context only.",
        "rows": [
            # The baseline is the paper's own pair: Qwen2.5-32B-Instruct writes, Qwen2.5-Math-7B-Instruct solves.
            _ref({"problem_model": "qwen2.5-32b-instruct", "solution_model": "qwen2.5-math-7b-instruct"},
                 "§5, l.215-217", label="baseline", train=50_000, math=56.4),
            _ref({"problem_model": "(other, not named)", "solution_model": "qwen2.5-math-7b-instruct"},
                 "§5, l.216", label="other problem generator", compare=False, train=50_000, math=54.9),
            _ref({"problem_model": "qwen2.5-32b-instruct", "solution_model": "deepseek-math-7b-rl"},
                 "§5, l.217; l.203", label="weaker solution teacher", train=50_000, math=49.3),
        ],
    },
    "table11_mixtures": {
        "note": "Only FLAMES Small's row of Table 11 is known (l.271).",
        "rows": [_ref({"mixture": "flames_small"}, "§8, l.265-269", label="FLAMES Small", **_SMALL)],
    },
    "scale": {
        "note": "FLAMES Small is Table 11's row; Large and XL are Tables 3/9 (averages only).",
        "rows": [
            _ref({"mixture": "flames_small"}, "§8, l.265-269", label="FLAMES Small", **_SMALL),
            _ref({"mixture": "flames_large"}, "§8, l.278; size l.311", label="FLAMES Large",
                 train=1_000_000, avg=61.7),
            _ref({"mixture": "flames_xl"}, "§8, l.279; size l.312", label="FLAMES XL", train=1_500_000, avg=65.8),
            _ref({"mixture": "(refreshed ScaleQuest)"}, "§8, l.277", label="refreshed ScaleQuest",
                 compare=False, avg=60.0),
        ],
    },
    "transfer": {
        "note": "Averages per student (Tables 4/10), FLAMES Large against refreshed ScaleQuest; the "
                "DeepSeek-Math-7B row is Table 3/9's.",
        "rows": [
            _ref({"student": "deepseek-math-7b-base"}, "§8, l.278", label="FLAMES Large", train=1_000_000, avg=61.7),
            # Qwen2.5-Math-7B: Avg l.288, OlympiadBench l.293, MATH5K l.294 (Figure 1, l.47).
            _ref({"student": "qwen2.5-math-7b"}, "§8, l.288, l.293-294", label="FLAMES Large", train=1_000_000,
                 avg=69.5, olympiadbench=40.9, math=81.4),
            _ref({"student": "qwen2.5-14b"}, "§8, l.289", label="FLAMES Large", train=1_000_000, avg=67.4),
            _ref({"student": "mathstral-7b"}, "§8, l.290", label="FLAMES Large", train=1_000_000, avg=61.1),
            _ref({"student": "mistral-7b-v0.3"}, "§8, l.291", label="FLAMES Large", train=1_000_000, avg=57.5),
            _ref({"student": "qwen2.5-math-7b"}, "§8, l.288, l.293", label="refreshed ScaleQuest", compare=False,
                 avg=69.2, olympiadbench=41.3),
            _ref({"student": "qwen2.5-14b"}, "§8, l.289", label="refreshed ScaleQuest", compare=False, avg=66.2),
            _ref({"student": "mathstral-7b"}, "§8, l.290", label="refreshed ScaleQuest", compare=False, avg=59.0),
            _ref({"student": "mistral-7b-v0.3"}, "§8, l.291", label="refreshed ScaleQuest", compare=False, avg=54.8),
        ],
    },
}


# ---------------------------------------------------------------------------------------------------
# Paper rows and deltas


def paper_refs(name: str) -> list[dict]:
    """The paper's rows for study `name` (none for a study the paper has no numbers for)."""
    return list((PAPER.get(name) or {}).get("rows", []))


def matches(ref: dict, row: dict) -> bool:
    """A comparable paper row matches a cell whose axes take every value the paper row names."""
    return ref["compare"] and all(str(row.get(axis)) == value for axis, value in ref["axes"].items())


def delta(row: dict, ref: dict) -> dict:
    """ours - paper for every value both have (rounded to the stored two decimals)."""
    return {k: round(row[k] - v, 2) for k, v in ref["values"].items() if _number(row.get(k)) is not None}


def paper_in_interval(row: dict, ref: dict) -> dict:
    """`<value>_paper_in_ci`: whether the paper's number lies inside our interval, for every value both
    have and ours has an interval for. The paper's items are not ours: no paired test is possible."""
    out = {}
    for k, v in ref["values"].items():
        low, high = _number(row.get(k + LOW)), _number(row.get(k + HIGH))
        if _number(row.get(k)) is not None and None not in (low, high):
            out[f"{k}_paper_in_ci"] = low <= v <= high
    return out
