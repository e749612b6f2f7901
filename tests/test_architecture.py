"""The house rules: layers hold (import-linter), an agent is three files, configs ship in the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from flames.views import in_view
from tests.conftest import REPO, problem_from_prompt
from tests.helpers import compose_config


def test_import_layers_and_no_cycles():
    lint = shutil.which("lint-imports") or pytest.fail("lint-imports not installed (pip install -e '.[dev]')")
    proc = subprocess.run([lint, "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "2 kept" in proc.stdout


def test_the_layers_name_the_packages_and_no_module_is_over_400_lines():
    """Small modules: a package per room (stages, store, report, config), each module under 400 lines."""
    toml = (REPO / "pyproject.toml").read_text()
    for package in ("flames.stages", "flames.store", "flames.report", "flames.config", "flames.context"):
        assert f"{package}" in toml.split("[[tool.importlinter.contracts]]", 1)[1], package
    long = {str(p.relative_to(REPO)): n for p in (REPO / "flames").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


AGENT_MODULE = '''
"""A throwaway agent: asks the model to restate the seed loudly."""
from dataclasses import dataclass
from pathlib import Path

from flames.agents.base import Agent, ChunkResult, clean_problem
from flames.config import AgentConfig
from flames.files import read_prompt


@dataclass
class ShoutConfig(AgentConfig):
    suffix: str = "!"  # appended to every problem


class Shout(Agent):
    name = "shout"
    Config = ShoutConfig

    def run_chunk(self, seeds):
        out = ChunkResult()
        template = read_prompt(Path(__file__).with_name("shout.txt"))
        for seed, reply in zip(seeds, self.step("shout", [template.replace("{problem}", s["problem"]) for s in seeds])):
            problem, reason = clean_problem(reply)
            if problem:
                out.problems.append(self.problem_record(seed, problem.upper() + self.cfg.suffix))
            else:
                self.drop(out, seed, reason, step="shout", raw=reply)
        return out
'''
AGENT_PROMPT = "# the shout agent's only prompt\nQuestion: {problem}\nLouder:\n"
AGENT_YAML = """# flames hydra.searchpath=[file://<dir>/conf] agent=shout
_target_: throwaway_shout.Shout  # the agent class
name: shout  # the agent's label
num_problems: 4  # problems to produce
suffix: " (shouted)"  # the agent's own knob
"""


def test_an_agent_is_a_module_a_prompt_and_a_yaml(tmp_path, monkeypatch, scripted_backend):
    """Three new files outside the package, nothing edited in it: the agent runs through the pipeline."""
    (tmp_path / "throwaway_shout.py").write_text(textwrap.dedent(AGENT_MODULE))
    (tmp_path / "shout.txt").write_text(AGENT_PROMPT)
    (tmp_path / "conf" / "agent").mkdir(parents=True)
    (tmp_path / "conf" / "agent" / "shout.yaml").write_text(AGENT_YAML)
    monkeypatch.syspath_prepend(str(tmp_path))
    llm = scripted_backend(lambda p, k: f"Rephrased: {problem_from_prompt(p)}" if "Louder:" in p else "\\boxed{1}")
    cfg = compose_config([f"hydra.searchpath=[file://{tmp_path}/conf]", "agent=shout", "logger=none",
                          "stage=problem_qc"])
    res = Pipeline(cfg).run()
    synth, pqc = res.results
    rows = list(read_jsonl(pqc.artifact.data))  # the pool: a first chunk's problems, the 4 asked among them
    assert synth.label == "shout" and len(rows) == pqc.manifest["records_out"] >= 4
    assert sum(in_view(r, 4) for r in rows) == 4
    assert all(r["agent"] == "shout" and r["id"].startswith("shout-") and r["problem"].endswith(" (shouted)")
               for r in rows)
    assert all("Louder:" in p and "the shout agent" not in p for call in llm.calls for p in call)  # header cut
    assert synth.manifest["llm_calls_by_step"].get("shout", 0) >= 1


def test_the_installed_package_carries_its_configs(tmp_path):
    """A non-editable install (the wheel's files) composes and prints the config from an empty folder."""
    target, empty = tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
           str(REPO)]
    proc = subprocess.run(pip, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (target / "flames" / "conf" / "agent" / "paraphrase.yaml").exists()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    where = subprocess.run([sys.executable, "-c", "import flames; print(flames.__file__)"], cwd=empty,
                           capture_output=True, text=True, env=env)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr  # not the checkout
    cfg = subprocess.run([sys.executable, "-m", "flames", "--cfg", "job", "agent=iqc", "experiment=paper"], cwd=empty,
                         capture_output=True, text=True, env={**env, "FLAMES_DATA_DIR": "/data"})
    assert cfg.returncode == 0, cfg.stderr[-3000:]
    assert "flames.agents.iqc.IQC" in cfg.stdout and "Qwen/Qwen2.5-32B-Instruct" in cfg.stdout
    assert "compose: question" in cfg.stdout  # the agent's paper variant (conf/agent/iqc/paper.yaml) ships too
    bad = subprocess.run([sys.executable, "-m", "flames", "agent=nope"], cwd=empty, capture_output=True, text=True,
                         env=env)
    assert bad.returncode != 0 and "nope" in bad.stderr
