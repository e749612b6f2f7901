"""Benchmark suites: the config group, local files, hub loading (offline, from dataset folders), the table."""

import json
import re
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from flames.benchmarks import PAPER_ORDER, load_benchmark, load_suite, paper_average, subset_fields
from flames.cli import CONF_DIR
from flames.jsonl import JSONLError
from flames.report import eval_table, paper_table
from tests.helpers import compose_config

PAPER = ["gsm8k", "math", "college_math", "gsmplus", "gsmplus_distraction", "olympiadbench"]


def bench(*overrides):
    return compose_config(list(overrides)).benchmarks


# ------------------------------------------------------------------ the config group
def test_paper_suite_and_its_old_commands_compose():
    b = bench("benchmarks=paper", "benchmarks.limit=10")
    assert list(b.names) == PAPER and b.limit == 10 and b.max_new_tokens == 2048
    assert list(bench("benchmarks=gsm8k").names) == ["gsm8k"]
    assert list(bench().names) == ["builtin"] and bench().max_new_tokens == 256  # the quickstart default


def test_benchmarks_combine_hydra_style():
    assert list(bench("benchmarks=[gsm8k,math500]").names) == ["gsm8k", "math500"]
    assert list(bench("benchmarks=[paper,math500]").names) == PAPER + ["math500"]
    assert list(bench("benchmarks=paper", "benchmarks.names=[olympiadbench]").names) == ["olympiadbench"]


@pytest.mark.parametrize("override,key", [
    ("benchmarks.limt=3", "benchmarks.limt"),
    ("benchmarks.suite.gsm8k.fiel=x", "fiel"),
])
def test_misspelled_benchmark_keys_fail_naming_them(override, key):
    with pytest.raises(ConfigCompositionException, match=re.escape(key)):
        compose_config(["benchmarks=gsm8k", override])


def test_unknown_benchmark_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown benchmark 'gsm9k'.*gsm8k"):
        load_suite(bench("benchmarks=gsm8k", "benchmarks.names=[gsm9k]"))


def test_every_benchmark_config_says_its_command_and_comments_every_key():
    for path in sorted(Path(CONF_DIR, "benchmarks").glob("*.yaml")):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("# flames") and "benchmarks=" in lines[0], path.name
        for line in lines:
            if re.match(r"\s*[a-z_]+:", line) and not line.startswith("defaults:"):
                assert "#" in line, f"{path.name}: {line!r} has no comment"


# ------------------------------------------------------------------ local files
def test_gsmplus_drops_critical_thinking_and_distraction_is_its_own_column(flames_data):
    b = bench("benchmarks=paper")
    full, distraction = load_benchmark("gsmplus", b), load_benchmark("gsmplus_distraction", b)
    assert len(full) == 2100 and not any(it["perturbation_type"] == "critical thinking" for it in full)
    assert len(distraction) == 300 and {it["perturbation_type"] for it in distraction} == {"distraction insertion"}


def test_sizes_of_the_local_benchmarks(flames_data):
    suite = load_suite(bench("benchmarks=[paper,math500]"))
    assert {n: len(v) for n, v in suite.items()} == {
        "gsm8k": 1319, "math": 5000, "college_math": 2818, "gsmplus": 2100, "gsmplus_distraction": 300,
        "olympiadbench": 675, "math500": 500}
    assert len(load_suite(bench("benchmarks=paper"), limit=10)["math"]) == 10


def test_limit_seed_draws_a_reproducible_sample_in_file_order(flames_data):
    b = bench("benchmarks=math")
    full = load_benchmark("math", b)
    first = load_benchmark("math", b, limit=10)
    drawn = load_benchmark("math", b, limit=10, limit_seed=1)
    assert first == full[:10] and {it["type"] for it in first} == {"Algebra"}  # why the option exists
    assert len(drawn) == 10 and drawn == load_benchmark("math", b, limit=10, limit_seed=1)
    assert drawn != load_benchmark("math", b, limit=10, limit_seed=2) and len({it["type"] for it in drawn}) > 1
    pos = [full.index(it) for it in drawn]
    assert pos == sorted(pos)
    assert load_benchmark("math", b, limit=10**6, limit_seed=1) == full  # a limit past the end keeps all


def test_subset_fields_exist_in_the_local_files(flames_data):
    b = bench("benchmarks=[paper,math500]")
    suite = load_suite(b, limit=50)
    for name, fields in subset_fields(b).items():
        for f in fields:
            assert all(it.get(f) is not None for it in suite[name]), (name, f)


def test_missing_local_file_points_to_the_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="openai/gsm8k.*benchmarks.source=hub"):
        load_suite(bench("benchmarks=gsm8k", f"benchmarks.data_dir={tmp_path}"))


def test_a_local_benchmark_with_a_repeated_id_names_both_lines(tmp_path):
    """Ids key the evaluation's resumed records: a repeated one would score one item twice and skip another."""
    rows = [{"id": f"q{i}", "question": "1 + 1?", "answer": "2"} for i in (1, 2, 1)]
    write_jsonl(tmp_path / "benchmarks" / "gsm8k_test.jsonl", rows)
    with pytest.raises(JSONLError, match=r"gsm8k_test.jsonl:3: id 'q1' is also on line 1"):
        load_suite(bench("benchmarks=gsm8k", f"benchmarks.data_dir={tmp_path}"))


# ------------------------------------------------------------------ hub loading, offline

def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_hub_gsm8k_layout_answer_after_hashes(offline_hub):
    repo = offline_hub / "gsm8k"
    write_jsonl(repo / "test.jsonl", [{"question": "Q1?", "answer": "3 + 4 = 7\n#### 1,080"},
                                      {"question": "Q2?", "answer": "so\n#### 5"}])
    b = bench("benchmarks=gsm8k", "benchmarks.source=hub", f"benchmarks.suite.gsm8k.hub={repo}",
              "benchmarks.suite.gsm8k.hub_configs=[]")
    items = load_suite(b)["gsm8k"]
    assert [(it["id"], it["problem"], it["answer"]) for it in items] == [
        ("gsm8k-test-00000", "Q1?", "1080"), ("gsm8k-test-00001", "Q2?", "5")]


def test_hub_math_layout_configs_concatenated_boxed_answer_and_level(offline_hub):
    repo = offline_hub / "math"
    for subject, sol in (("algebra", "It is $\\boxed{\\frac{1}{2}}$."), ("geometry", "\\boxed{3} then \\boxed{4}")):
        write_jsonl(repo / subject / "test.jsonl", [{"problem": f"{subject}?", "level": "Level 3",
                                                     "type": subject.title(), "solution": sol}])
    (repo / "README.md").write_text("---\nconfigs:\n" + "".join(
        f"- config_name: {s}\n  data_files:\n  - split: test\n    path: {s}/test.jsonl\n"
        for s in ("algebra", "geometry")) + "---\n")
    b = bench("benchmarks=math", "benchmarks.source=hub", f"benchmarks.suite.math.hub={repo}",
              "benchmarks.suite.math.hub_configs=[algebra,geometry]")
    items = load_suite(b)["math"]
    assert [(it["problem"], it["answer"], it["level"], it["type"]) for it in items] == [
        ("algebra?", "\\frac{1}{2}", 3, "Algebra"), ("geometry?", "4", 3, "Geometry")]


def test_hub_olympiadbench_layout_list_answer_id_column_parquet(offline_hub):
    import pandas as pd

    repo = offline_hub / "olympiad" / "OE_TO_maths_en_COMP"
    repo.mkdir(parents=True)
    pd.DataFrame([{"id": 1606, "question": "Find x.", "final_answer": ["$x=2$"], "subfield": "Algebra",
                   "solution": ["long"]}]).to_parquet(repo / "train-00000-of-00001.parquet")
    b = bench("benchmarks=olympiadbench", "benchmarks.suite.olympiadbench.source=hub",
              f"benchmarks.suite.olympiadbench.hub={repo}", "benchmarks.suite.olympiadbench.hub_configs=[]")
    (item,) = load_suite(b)["olympiadbench"]
    assert (item["id"], item["problem"], item["answer"], item["subfield"]) == (
        "olympiadbench-1606", "Find x.", "x=2", "Algebra")
    assert "solution" not in item  # list columns are not copied


def test_hub_gsmplus_split_filter_applies(offline_hub):
    repo = offline_hub / "gsmplus"
    kinds = ["critical thinking", "distraction insertion", "digit expansion"]
    rows = [{"question": f"q{i}", "answer": "1", "perturbation_type": k} for i, k in enumerate(kinds)]
    write_jsonl(repo / "data" / "testmini-00000-of-00001.jsonl", rows)  # the hub repo's layout
    over = [f"benchmarks.suite.{n}.{k}" for n in ("gsmplus", "gsmplus_distraction") for k in ("hub", "hub_split")]
    b = bench("benchmarks=[gsmplus,gsmplus_distraction]", "benchmarks.source=hub",
              *[f"{o}={repo}" if o.endswith("hub") else f"{o}=testmini" for o in over])
    suite = load_suite(b)
    assert [it["problem"] for it in suite["gsmplus"]] == ["q1", "q2"]
    assert [it["problem"] for it in suite["gsmplus_distraction"]] == ["q1"]


def test_hub_missing_column_names_the_mapping(offline_hub):
    repo = offline_hub / "cm"
    write_jsonl(repo / "test.jsonl", [{"prompt": "x", "answer": "$1$"}])
    b = bench("benchmarks=college_math", "benchmarks.source=hub", f"benchmarks.suite.college_math.hub={repo}")
    with pytest.raises(KeyError, match="benchmarks.suite.college_math.fields.problem"):
        load_suite(b)


# ------------------------------------------------------------------ averages and the table
def test_paper_average_needs_all_five_and_ignores_distraction():
    m = {b: {"accuracy": a} for b, a in [("gsm8k", 85.2), ("math", 60.0), ("college_math", 41.4),
                                         ("gsmplus", 74.7), ("olympiadbench", 26.1)]}
    assert paper_average({**m, "gsmplus_distraction": {"accuracy": 72.2}}) == 57.48  # the paper's Table 11 row
    del m["math"]
    assert paper_average(m) is None


def row(acc, **extra):
    return {"accuracy": acc, "n": 2, "correct": 1, "unparseable": 0, "timeouts": 0, "disagreements": 1, **extra}


def test_paper_table_has_the_papers_columns_in_order_one_row_per_model():
    m = {b: row(50.0) for b in PAPER}
    m["math500"] = row(10.0)
    m["math/level=1"] = row(100.0)
    table = paper_table({"base": m, "flames": {**m, "gsm8k": row(70.0)}})
    header, _, base, flames = table.splitlines()
    assert header.split() == ["model", "GSM8K", "MATH", "CollegeMath", "Distraction", "GSMPlus", "OlympiadBench",
                              "MATH500", "Avg"]
    assert base.split() == ["base"] + ["50.0"] * 6 + ["10.0", "50.0"]
    assert flames.split()[1] == "70.0" and flames.split()[-1] == "54.0"
    assert list(PAPER_ORDER) == ["gsm8k", "math", "college_math", "gsmplus_distraction", "gsmplus", "olympiadbench"]


def test_eval_table_shows_missing_paper_columns_and_subset_details():
    table = eval_table({"gsm8k": row(50.0), "math": row(25.0), "math/level=1": row(100.0)})
    lines = table.splitlines()
    assert lines[0].split()[-1] == "Avg" and lines[2].split()[-1] == "-"  # Avg needs all five
    assert "CollegeMath" in lines[0] and "disagreements" in table and "  level=1" in table


def test_builtin_only_table_has_no_paper_columns():
    table = eval_table({"builtin": row(50.0)})
    assert table.splitlines()[0].split() == ["model", "Builtin"] and "GSM8K" not in table
