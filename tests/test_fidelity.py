"""The fidelity ledger (docs/fidelity.yaml) matches what `experiment=paper` and the studies compose, and a
changed YAML value breaks it."""

import shutil

import pytest
from hydra import compose, initialize_config_dir

from flames.cli import CONF_DIR
from flames.config import register_configs
from tests import fidelity


def composer(conf_dir: str):
    def compose_where(where: list[str]):
        register_configs()
        with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
            return compose("config", overrides=[*where, "logger=none"])
    return compose_where


def test_every_ledger_row_is_what_its_command_composes():
    rows = fidelity.load_ledger()
    assert not fidelity.bad_sources(rows), "sources must be paper, ours or 'orig: <paper>'"
    assert not fidelity.mismatches(rows, composer(CONF_DIR))
    studies = {p.stem for p in (fidelity.ROOT / "conf" / "study").glob("*.yaml")} - {"quickstart"}
    covered = {w.removeprefix("study=") for row in rows for w in row["where"] if w.startswith("study=")}
    assert studies <= covered, f"studies without a ledger row: {sorted(studies - covered)}"


def test_the_rendered_ledger_is_up_to_date():
    assert fidelity.RENDERED.read_text() == fidelity.render(fidelity.load_ledger()), \
        "docs/fidelity.md is stale: python -m tests.fidelity"


# (a YAML under conf/, the line as shipped, the line changed, the ledger row that must then fail)
CHANGES = [
    ("student/deepseek-math-7b-base.yaml", "num_train_epochs: 5", "num_train_epochs: 3", "epochs"),
    ("experiment/paper.yaml", "  mode: qwen", "  mode: flames", "answer grading"),
    ("mixture/flames_small.yaml", "  iqc: 0.2", "  iqc: 0.25", "FLAMES Small shares"),
    ("agent/iqc/paper.yaml", "iterations: 4", "iterations: 3", "IQC iterations"),
    ("study/table5_models.yaml", "deepseek-math-7b-rl]", "qwen2.5-math-7b-instruct]", "Table 5's solution models"),
    ("benchmarks/paper_full.yaml", "    source: hub  # paper (card §7): the full GSM-Plus", "    source: local  #",
     "GSM-Plus test"),
]


@pytest.mark.parametrize(("path", "shipped", "changed", "setting"), CHANGES, ids=[c[3] for c in CHANGES])
def test_changing_a_ledger_value_in_a_yaml_fails_the_check(tmp_path, path, shipped, changed, setting):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    text = (conf / path).read_text()
    assert shipped in text, f"{path} no longer holds {shipped!r}: update CHANGES"
    (conf / path).write_text(text.replace(shipped, changed, 1))
    rows = fidelity.load_ledger()
    wrong = fidelity.mismatches([r for r in rows if r["setting"] == setting], composer(str(conf)))
    assert len(wrong) == 1 and wrong[0].startswith(f"{setting}:"), wrong
