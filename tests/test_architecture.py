"""The house rules: layers hold (import-linter), an agent is three files, configs ship in the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

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


def test_the_wheel_installed_in_a_fresh_venv_carries_the_top_level_conf(tmp_path):
    """conf/ (the layout's config root) ships in the wheel as flames.conf: the wheel, built from the checkout's
    files and installed into a new venv (its dependencies from this environment's site-packages), composes and
    prints the config from an empty folder, and a wrong option is one line."""
    import site

    src, dist, fresh, empty = (tmp_path / d for d in ("src", "dist", "venv", "empty"))
    empty.mkdir()
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:  # a copy: an in-tree build would reuse the checkout's stale build/ folder
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("flames-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    (purelib,) = fresh.glob("lib/python*/site-packages")
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")  # torch, hydra, ... from here
    installed = subprocess.run([*pip, "--python", str(fresh / "bin" / "python"), "install", "-q", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert (purelib / "flames" / "conf" / "agent" / "paraphrase.yaml").exists()
    python, env = str(fresh / "bin" / "python"), {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([python, "-c", "import flames.config.root as r; print(r.__file__, r.CONF_DIR)"], cwd=empty,
                           capture_output=True, text=True, env=env)
    assert where.stdout.split() == [str(purelib / "flames" / "config" / "root.py"), str(purelib / "flames" / "conf")], \
        where.stdout + where.stderr  # the wheel's files, not the checkout's
    cfg = subprocess.run([python, "-m", "flames", "--cfg", "job", "agent=iqc", "experiment=paper"], cwd=empty,
                         capture_output=True, text=True, env={**env, "FLAMES_DATA_DIR": "/data"})
    assert cfg.returncode == 0, cfg.stderr[-3000:]
    assert "flames.agents.iqc.IQC" in cfg.stdout and "Qwen/Qwen2.5-32B-Instruct" in cfg.stdout
    assert "compose: question" in cfg.stdout  # the agent's paper variant (conf/agent/iqc/paper.yaml) ships too
    bad = subprocess.run([python, "-m", "flames", "agent=nope"], cwd=empty, capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_the_checkout_composes_from_its_top_level_conf(tmp_path):
    """The editable install (README command 1) reads conf/ of the checkout, from any folder."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([sys.executable, "-c", "import flames.config.root as r; print(r.CONF_DIR)"], cwd=tmp_path,
                           capture_output=True, text=True, env=env)
    assert where.stdout.strip() == str(REPO / "conf"), where.stdout + where.stderr
    cfg = subprocess.run([sys.executable, "-m", "flames", "--cfg", "job", "agent=iqc"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert cfg.returncode == 0 and "flames.agents.iqc.IQC" in cfg.stdout, cfg.stderr[-3000:]


def test_the_wheel_lists_every_folder_of_the_package():
    """pyproject names the packages (the mapped flames.conf cannot be found by packages.find): a new folder of
    flames/ must be listed, or the wheel leaves it out."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.relative_to(REPO).parts) for p in (REPO / "flames").rglob("*")
               if p.is_dir() and p.name != "__pycache__"}
    assert {"flames", *folders} == listed - {"flames.conf"}
