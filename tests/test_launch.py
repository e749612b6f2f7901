"""launch/: thin entry points, each checked here so that none drifts from the configs it names."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from flames.config.root import CONF_DIR
from tests.conftest import REPO

LAUNCH = REPO / "launch"
SCRIPTS = sorted(LAUNCH.glob("*.sh"))


def flames_line(script: Path) -> list[str]:
    """The script's `flames ...` command as the shell would pass it (defaults of ${VAR:-x} taken, "$@" empty)."""
    (line,) = [ln for ln in script.read_text().splitlines() if ln.startswith("flames ")]
    line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line).replace('"$@"', "")
    return shlex.split(line)[1:]


def test_there_is_a_script_per_shipped_study_but_the_quickstart():
    studies = {p.stem for p in (CONF_DIR / "study").glob("*.yaml")} - {"quickstart"}
    assert studies and {s.stem for s in SCRIPTS} == studies


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_each_launch_line_composes(script, tmp_path):
    """`flames <its overrides> --cfg job` composes (the launcher profile included); nothing runs."""
    args = flames_line(script)
    assert args[0] == f"study={script.stem}"
    env = {**os.environ, "FLAMES_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "flames", *args, "--cfg", "job"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"name: {script.stem}" in proc.stdout


def test_the_server_sbatch_starts_the_vllm_server_on_its_port(tmp_path):
    """serve.sbatch passes the model, port and extra arguments to the server module, and prints the base_url a
    sweep's openai backend takes (a stand-in `python` records what it was asked)."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").write_text('#!/bin/sh\necho "python $*"\n')
    (shim / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "PORT": "8123"}
    proc = subprocess.run(["bash", str(LAUNCH / "serve.sbatch"), "Qwen/Qwen2.5-7B-Instruct", "--max-model-len",
                           "4096"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    base_url, started = proc.stdout.splitlines()
    assert re.fullmatch(r"base_url: http://\S+:8123/v1", base_url)
    assert started == ("python -m vllm.entrypoints.openai.api_server --model Qwen/Qwen2.5-7B-Instruct --port 8123 "
                       "--max-model-len 4096")
    bare = subprocess.run(["bash", str(LAUNCH / "serve.sbatch")], env=env, capture_output=True, text=True)
    assert bare.returncode != 0 and "usage: sbatch launch/serve.sbatch <model>" in bare.stderr


def test_the_environment_example_names_only_what_flames_reads():
    names = re.findall(r"^export (FLAMES_\w+)=", (LAUNCH / "env.example").read_text(), re.M)
    assert len(names) >= 6
    code = "\n".join(p.read_text() for p in [*(REPO / "flames").rglob("*.py"), *CONF_DIR.rglob("*.yaml"), *SCRIPTS])
    unread = [n for n in names if n not in code.replace(f"export {n}=", "")]
    assert not unread, f"env.example sets variables nothing reads: {unread}"
