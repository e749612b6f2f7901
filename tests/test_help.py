"""`flames --help`: flames's own help (conf/hydra/help/flames.yaml), the config groups a user picks with their
options, and no internal group (schema/*, model_shape, an agent's paper subgroup) or Hydra's default header."""

from __future__ import annotations

from flames.config.root import CONF_DIR
from tests.e2e import run_flames

# Every group `flames --help` must list: the top-level groups of conf/ and Hydra's launcher and sweeper
CONF = CONF_DIR
USER_GROUPS = {d.name for d in CONF.iterdir() if d.is_dir() and d.name not in ("hydra", "model_shape", "__pycache__")}


def test_help_says_what_flames_is_and_lists_only_the_groups_a_user_picks(tmp_path):
    out = run_flames(["--help"], tmp_path / "cwd", tmp_path / "store", timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert text.startswith("flames: synthetic math data for LLM reasoning"), text[:300]
    for line in ("Start with:", "flames study=table1_qc rehearsal=cpu study.dry_run=true",
                 'pip install -e ".[dev,fast]" && python -m pytest -ra -n 2', "Config groups (group=option"):
        assert line in text, line
    assert "schema/" not in text and "model_shape" not in text and "powered by Hydra" not in text
    groups = dict(line.split(": ", 1) for line in text.split("Config groups")[1].split("\n\n")[0].splitlines()[1:])
    assert set(groups) == USER_GROUPS | {"hydra/launcher", "hydra/sweeper"}, sorted(groups)
    assert "distraction_insertion" in groups["agent"].split(", ") and "slurm" in groups["hydra/launcher"].split(", ")
    assert "flames_small" in groups["mixture"].split(", ")
