"""Benchmark loading from the real files: the paper's GSMPlus split and Avg."""

from omegaconf import OmegaConf

from flames.benchmarks import load_benchmark, paper_average


def cfg(data):
    return OmegaConf.create({"data_dir": str(data), "builtin_count": 4})


def test_gsmplus_drops_critical_thinking_and_distraction_is_its_own_column(flames_data):
    full = load_benchmark("gsmplus", cfg(flames_data))
    distraction = load_benchmark("gsmplus_distraction", cfg(flames_data))
    assert len(full) == 2100 and not any(it["perturbation_type"] == "critical thinking" for it in full)
    assert len(distraction) == 300 and {it["perturbation_type"] for it in distraction} == {"distraction insertion"}


def test_sizes_of_the_local_benchmarks(flames_data):
    sizes = {n: len(load_benchmark(n, cfg(flames_data))) for n in ("gsm8k", "math", "college_math", "olympiadbench")}
    assert sizes == {"gsm8k": 1319, "math": 5000, "college_math": 2818, "olympiadbench": 675}
    assert len(load_benchmark("gsm8k", cfg(flames_data), limit=10)) == 10


def test_paper_average_needs_all_five_and_ignores_distraction():
    m = {b: {"accuracy": a} for b, a in [("gsm8k", 85.2), ("math", 60.0), ("college_math", 41.4),
                                         ("gsmplus", 74.7), ("olympiadbench", 26.1)]}
    assert paper_average({**m, "gsmplus_distraction": {"accuracy": 72.2}}) == 57.48  # the paper's Table 11 row
    del m["math"]
    assert paper_average(m) is None


def test_eval_table_shows_the_paper_average():
    from flames.report import eval_table

    m = {b: {"accuracy": 50.0, "n": 2, "unparseable": 0, "timeouts": 0}
         for b in ("gsm8k", "math", "college_math", "gsmplus", "olympiadbench", "gsmplus_distraction")}
    table = eval_table(m)
    assert "Avg (paper: 5 benchmarks)" in table and "gsmplus_distraction" in table
