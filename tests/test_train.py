"""The train stage for real on the embedded model: masks, templates, batch layout, launch, resume, DDP.

Each training run here is a real torchrun launch of `flames.train.worker` on CPU. Assertions are on
what the trainer guarantees (masks, step counters, checkpoints, the loss falling on data it can
memorize), never on what the model says.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from flames.config import ConfigError, DistributedConfig, StudentConfig
from flames.examples import FALLBACK_TEMPLATE, fit_examples, student_tokenizer, to_example
from flames.jsonl import read_jsonl, write_jsonl
from flames.llm.embedded import embedded_model_dir
from flames.train.plan import make_plan
from flames.train.run import LOG_FILE, RESULT_FILE, train, write_spec

PROMPT = "Reason step by step."


def rows(n: int) -> list[dict]:
    """Short arithmetic problems with worked solutions (a few dozen tokens each)."""
    out = []
    for i in range(n):
        a, b = 3 + i, 11 + 2 * i
        out.append({"id": f"r{i:02d}", "problem": f"What is {a} + {b}?", "answer": str(a + b),
                    "solution": f"{a} + {b} = {a + b}. The answer is \\boxed{{{a + b}}}."})
    return out


def student(**overrides):
    base = {"name": "embedded:smollm2-135m-instruct", "max_length": 256, "bf16": False, "learning_rate": 1e-4,
            "per_device_train_batch_size": 2, "lr_scheduler_type": "constant", "warmup_steps": 0}
    return OmegaConf.merge(OmegaConf.structured(StudentConfig), {**base, **overrides})


def ddp(**overrides):
    return OmegaConf.merge(OmegaConf.structured(DistributedConfig), overrides)


def test_length_filter_counts_tokens_of_the_rendered_chat():
    tok = student_tokenizer(embedded_model_dir())
    short = {"id": "a", "problem": "What is 1+1?", "solution": "It is \\boxed{2}."}
    long = {"id": "b", "problem": "What is 1+1? " * 50, "solution": "two " * 200}
    examples, too_long = fit_examples([short, long], tok, PROMPT, max_length=128)
    assert examples == [to_example(short, PROMPT)] and too_long == [long]
    assert examples[0]["completion"] == [{"role": "assistant", "content": short["solution"]}]


def test_a_base_model_without_chat_template_gets_the_fallback_ending_in_eos(tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    tok.chat_template = None
    tok.save_pretrained(tmp_path)
    base = student_tokenizer(str(tmp_path))
    assert base.chat_template == FALLBACK_TEMPLATE
    ex = to_example(rows(1)[0], PROMPT)
    prompt = base.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True)
    full = base.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=False)
    assert full.startswith(prompt) and prompt.endswith("Assistant:")  # the completion mask starts at the answer
    assert full.endswith(rows(1)[0]["solution"] + base.eos_token)  # the student learns to stop
    assert student_tokenizer(embedded_model_dir()).chat_template != FALLBACK_TEMPLATE  # an own template stays


@pytest.mark.parametrize("template", [None, "fallback"])
def test_labels_mask_the_prompt_and_cover_the_whole_solution_and_eos(tmp_path, template):
    """The collated batch of a real example: -100 on every prompt token, the solution and EOS trained."""
    from flames.train.worker import build_trainer

    cfg = student(chat_template=template, per_device_train_batch_size=1)
    tok = student_tokenizer(embedded_model_dir(), template)
    row = rows(1)[0]
    spec = write_spec(tmp_path, [to_example(row, PROMPT)], embedded_model_dir(), cfg, ddp(), make_plan(cfg, 1))
    trainer = build_trainer(json.loads(spec.read_text()))
    batch = next(iter(trainer.get_train_dataloader()))
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    first = next(i for i, lab in enumerate(labels) if lab != -100)
    assert all(lab == -100 for lab in labels[:first]) and all(lab != -100 for lab in labels[first:])
    assert labels[first:] == ids[first:]
    prompt_text, trained = tok.decode(ids[:first]), tok.decode(labels[first:])
    assert row["problem"] in prompt_text and row["solution"] not in prompt_text
    assert trained.strip().startswith(row["solution"]) and tok.eos_token_id in labels[first:]


def test_global_batch_means_the_same_on_any_number_of_devices():
    cfg = student(global_batch_size=32, per_device_train_batch_size=4)
    assert [(p.accumulation, p.global_batch) for p in (make_plan(cfg, 1), make_plan(cfg, 8))] == [(8, 32), (1, 32)]
    assert make_plan(student(gradient_accumulation_steps=3), 2).global_batch == 12  # no global: as given
    with pytest.raises(ConfigError, match="student.global_batch_size=6"):
        make_plan(student(global_batch_size=6, per_device_train_batch_size=4), 8)
    with pytest.raises(ConfigError, match="student.packing=true needs student.attn_implementation"):
        make_plan(student(packing=True), 1)  # sdpa would let packed examples attend to each other
    assert make_plan(student(packing=True, attn_implementation="flash_attention_2"), 1).global_batch == 2


def test_checkpoints_are_spread_evenly_and_one_means_only_the_end():
    from flames.train.worker import save_steps

    assert save_steps(4) == 0.25 and save_steps(2) == 0.5  # fractions of the total steps
    assert save_steps(1) > 10**9  # Trainer reads 1.0 as "every step": the end only (SaveAtEnd saves it)


def run_train(tmp_path: Path, n: int, processes: int = 1, streamed: list | None = None, base: Path | None = None,
              **overrides) -> tuple[dict, list[dict]]:
    """Train `base` (default: the embedded model) on `n` rows; `streamed` gets (row, whether the run had ended)
    for each line forwarded live."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    mixture = tmp_path / "mixture.jsonl"
    write_jsonl(mixture, rows(n))
    out = tmp_path / "train"
    on_log = None if streamed is None else lambda row: streamed.append((row, (out / RESULT_FILE).exists()))
    metrics = train(mixture, out, base or embedded_model_dir(), student(**overrides), PROMPT, ddp(), processes, on_log)
    return metrics, list(read_jsonl(out / LOG_FILE))


@pytest.mark.slow
def test_overfitting_sixteen_examples_halves_the_loss(tmp_path):
    streamed = []
    metrics, log = run_train(tmp_path, 16, streamed=streamed, max_steps=12, learning_rate=3e-4,
                             per_device_train_batch_size=4)
    losses = [r["loss"] for r in log]
    print(f"overfit: loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps")
    assert metrics["steps"] == 12 and [r["step"] for r in log] == list(range(1, 13))
    assert sum(losses[-4:]) / 4 <= 0.5 * sum(losses[:4]) / 4
    assert (tmp_path / "train" / "model" / "config.json").exists()
    state = json.loads((tmp_path / "train" / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["save_steps"] > 12  # one checkpoint (the end): not one per step (save_steps=1.0 would be)
    assert all(k in log[-1] for k in ("learning_rate", "grad_norm", "epoch", "tokens_per_s"))
    assert [row for row, _ in streamed] == log  # every line reached the logger, once, in order
    assert not streamed[0][1]  # the first while the workers were still training, not at the end


def _process_tree(root: int) -> list[int]:
    """`root` and every process descending from it (a torchrun worker runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # after the name: state, ppid, ...
        except (OSError, IndexError, ValueError):
            continue  # ended while listed
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _running(pid: int) -> bool:
    """A thread of `pid` has not ended yet (a zombie's main thread can wait for its other threads, which still
    hold its files)."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            pass  # that thread is gone
    return any(state != "Z" for state in states)


@pytest.mark.slow
def test_a_job_sigkilled_while_writing_a_checkpoint_resumes_from_the_last_whole_one(tmp_path, tiny_student):
    """Real processes: the launcher, torchrun and its worker are SIGKILLed while checkpoint 6 is being written
    (its folder and weights there, its optimizer state half written, its trainer state not yet: the Trainer
    writes that last), then relaunched. The torn checkpoint is passed over; the run resumes from checkpoint 4
    and overwrites it.

    The moment of the kill is made certain, not raced for: checkpoint 6's optimizer.pt is a named pipe made
    before the launch, which nobody reads, so the worker blocks inside that write once the pipe's buffer is
    full, with checkpoint 4 still whole (older checkpoints are thinned only after a save completes). Data in
    the pipe means the worker is mid-write: the whole tree is SIGKILLed then, however slowly anything ran.
    """
    mixture, out = tmp_path / "mixture.jsonl", tmp_path / "train"
    write_jsonl(mixture, rows(16))
    OmegaConf.save(student(max_steps=8, num_checkpoints=4), tmp_path / "student.yaml")
    script = tmp_path / "job.py"
    script.write_text(
        "from omegaconf import OmegaConf\nfrom flames.config import StudentConfig, DistributedConfig\n"
        "from flames.train.run import train\n"
        "cfg = OmegaConf.merge(OmegaConf.structured(StudentConfig), "
        f"OmegaConf.load({str(tmp_path / 'student.yaml')!r}))\n"
        f"print(train({str(mixture)!r}, {str(out)!r}, {str(tiny_student)!r}, cfg, {PROMPT!r}, "
        "OmegaConf.structured(DistributedConfig), 1))\n")
    torn = out / "checkpoints" / "checkpoint-6"
    torn.mkdir(parents=True)
    os.mkfifo(torn / "optimizer.pt")
    pipe = os.open(torn / "optimizer.pt", os.O_RDONLY | os.O_NONBLOCK)  # the worker's open() does not wait
    try:
        job = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
        deadline = time.time() + 900  # a hang guard only: the wait ends on the worker's write, not on a clock
        while not select.select([pipe], [], [], 1.0)[0]:
            assert job.poll() is None and time.time() < deadline, "the job ended or stalled before checkpoint 6"
        tree = _process_tree(job.pid)  # the worker is blocked in its write: the tree stands still
        assert len(tree) >= 3, tree  # the job, torchrun, its worker
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
        job.wait()
        while any(_running(pid) for pid in tree):  # SIGKILL is not caught: they end at once, however loaded
            assert time.time() < deadline, f"still running after SIGKILL: {[p for p in tree if _running(p)]}"
            time.sleep(0.05)
        written = b""  # what the worker wrote of optimizer.pt before the kill
        while True:
            try:
                chunk = os.read(pipe, 1 << 16)
            except BlockingIOError:  # empty, a writer still open: its last thread is still exiting
                assert time.time() < deadline, "the pipe's writer outlived its SIGKILL"
                time.sleep(0.05)
                continue
            if not chunk:  # EOF: no writer left
                break
            written += chunk
    finally:
        os.close(pipe)
    (torn / "optimizer.pt").unlink()
    (torn / "optimizer.pt").write_bytes(written)  # a file cut short by the kill, as on a disk
    assert written.startswith(b"PK") and (torn / "model.safetensors").exists()  # the kill was mid-checkpoint
    assert not (torn / "trainer_state.json").exists()
    assert (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists()
    assert (out / "checkpoints" / "checkpoint-4" / "optimizer.pt").exists()  # still resumable
    before = [r["step"] for r in read_jsonl(out / LOG_FILE)]
    assert not (out / RESULT_FILE).exists() and 4 < max(before) < 8  # steps past checkpoint 4 logged: run again
    (out / "model.partial").mkdir()  # what a kill during the final save leaves: a torn folder, a temp file
    (out / "model.partial" / "tmp_shard.bin").write_bytes(b"\0" * 1024)
    again = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    result = json.loads((out / RESULT_FILE).read_text())
    assert result["resumed_from"] == 4 and result["steps"] == 8
    steps = [r["step"] for r in read_jsonl(out / LOG_FILE)]
    assert steps == list(range(1, 9))  # the curve continues: no step twice, none from 0 again
    state = json.loads((out / "checkpoints" / "checkpoint-8" / "trainer_state.json").read_text())
    assert [h["step"] for h in state["log_history"] if "loss" in h] == list(range(1, 9))
    losses = [r["loss"] for r in read_jsonl(out / LOG_FILE)]  # the loss over all 8 steps, not the last 4
    assert result["train_loss"] == pytest.approx(sum(losses) / 8)
    assert not list((out / "checkpoints").glob("*/optimizer.pt"))  # done: nothing left to resume
    assert not (out / "model.partial").exists() and not (out / "model" / "tmp_shard.bin").exists()


@pytest.mark.slow
def test_two_ddp_processes_train_like_one_with_the_same_global_batch(tmp_path, tiny_student):
    """2 CPU processes (gloo) x 2 per device = 1 process x 2 per device x 2 accumulation: the same losses."""
    one, log1 = run_train(tmp_path / "one", 8, 1, base=tiny_student, max_steps=3, global_batch_size=4)
    two, log2 = run_train(tmp_path / "two", 8, 2, base=tiny_student, max_steps=3, global_batch_size=4)
    assert (one["processes"], one["accumulation"], two["processes"], two["accumulation"]) == (1, 2, 2, 1)
    assert one["global_batch"] == two["global_batch"] == 4
    l1, l2 = [r["loss"] for r in log1], [r["loss"] for r in log2]
    print(f"1 process: {l1}\n2 processes: {l2}")
    assert len(l1) == len(l2) == 3
    assert all(abs(a - b) <= 0.05 * abs(a) + 1e-3 for a, b in zip(l1, l2)), (l1, l2)


@pytest.mark.slow
@pytest.mark.parametrize("selection", ["last", "dev", "paper"])
def test_checkpoint_selection_records_every_checkpoint_and_the_choice(tmp_path, selection, tiny_student):
    """stage=train on an external mixture, 2 checkpoints: last keeps the final model; paper and dev
    score each checkpoint (greedy, on the builtin test set or held-out mixture rows) and choose one."""
    from flames.pipeline import Pipeline
    from flames.stages import STAGE_BY_NAME
    from flames.train import trained_model
    from tests.helpers import compose_config

    data = tmp_path / "sft.jsonl"
    write_jsonl(data, rows(12))
    cfg = compose_config(["logger=none", "stage=train", "mixture=external", f"mixture.dataset={data}",
                          f"student.name={tiny_student}", f"student.selection={selection}",
                          "student.num_checkpoints=2", "student.max_steps=2",
                          "student.max_length=256", "student.dev_size=3", "student.select_on=[builtin]",
                          "benchmarks.limit=3", "benchmarks.max_new_tokens=24"])
    (result,) = [r for r in Pipeline(cfg).run().results if r.stage == "train"]
    metrics, art = result.manifest["metrics"], result.artifact.path
    assert metrics["steps"] == 2
    if selection == "last":
        assert "checkpoints" not in metrics and trained_model(art, metrics) == str(art / "model")
        assert [p.name for p in (art / "checkpoints").glob("checkpoint-*")] == ["checkpoint-2"]  # older ones go
        return
    assert [c["step"] for c in metrics["checkpoints"]] == [1, 2] and metrics["selection"] == selection
    names = {"dev": ["dev"], "paper": ["builtin"]}[selection]
    for c in metrics["checkpoints"]:
        assert sorted(c["scores"]) == names and 0.0 <= c["score"] <= 1.0
        preds = list(read_jsonl(art / "selection" / f"checkpoint-{c['step']}" / "data.jsonl"))
        assert len(preds) == 3  # dev_size=3 held out, or benchmarks.limit=3
    best = max(c["score"] for c in metrics["checkpoints"])
    chosen = next(c for c in metrics["checkpoints"] if c["step"] == metrics["selected_step"])
    assert chosen["score"] == best == metrics["selected_score"]
    assert trained_model(art, metrics) == str(art / metrics["selected"])  # what evaluate loads
    older = art / "checkpoints" / "checkpoint-1"
    assert not (older / "optimizer.pt").exists() and (older / "trainer_state.json").exists()  # kept, thinned
    if selection == "dev":
        dev_ids = {r["id"] for r in read_jsonl(art / "dev.jsonl")}
        trained_on = [json.loads(line) for line in (art / "examples.jsonl").read_text().splitlines()]
        assert len(dev_ids) == 3 and len(trained_on) == 9  # held out rows are not trained on
    assert "selection=" in STAGE_BY_NAME["train"].dry_run(cfg)


def test_dry_run_prints_the_launch_command_for_one_node_with_eight_gpus(tmp_path):
    """experiment=paper with FSDP and ZeRO-3 compose; the dry run names the exact command a SLURM job runs."""
    from tests.e2e import run_flames

    for dist in ("fsdp", "zero3"):
        proc = run_flames(["experiment=paper", f"distributed={dist}", "distributed.dry_run=true", "logger=none"],
                          tmp_path, tmp_path / "store", timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        command = shlex.split(proc.stdout.strip().splitlines()[0])  # the exact argv, shell-quoted
        assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "8",
                               "-m", "flames.train.worker", f"{tmp_path / 'store'}/train/<key>/launch.json"], command
        assert "global batch     32 = 8 x 4 per device x 1 accumulation" in proc.stdout
        assert not (tmp_path / "store").exists()  # nothing ran


def test_fsdp_and_zero3_configs_reach_the_training_arguments(tmp_path):
    from flames.train.worker import training_args
    from tests.helpers import compose_config

    for dist in ("ddp", "fsdp", "zero3"):
        cfg = compose_config(["experiment=paper", f"distributed={dist}"])
        assert cfg.distributed.name == dist
        spec = {"student": OmegaConf.to_container(student()), "plan": {"per_device": 4, "accumulation": 1},
                "distributed": OmegaConf.to_container(cfg.distributed)}
        if dist == "zero3":  # building the arguments needs deepspeed installed: check the config it is given
            ds = spec["distributed"]["deepspeed"]
            assert ds["zero_optimization"]["stage"] == 3 and ds["train_micro_batch_size_per_gpu"] == "auto"
            assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
            continue
        args = training_args(spec, tmp_path / dist)
        assert (args.fsdp_config or {}).get("state_dict_type", "") == ("FULL_STATE_DICT" if dist == "fsdp" else "")
        assert bool(args.fsdp) == (dist == "fsdp")


def test_flames_trains_the_real_student_on_fixed_rows_and_evaluates_what_it_trained(tmp_path):
    """The fast tier's one real train + evaluate: `flames mixture=external` on 8 built-in seeds with their own
    solutions (fixed rows: nothing here depends on what a model wrote), 2 optimizer steps of SmolLM2-135M,
    then the trained model answers 4 built-in test items. Always trains: nothing can leave the mixture empty."""
    from flames import builtin
    from tests.e2e import run_flames

    data = tmp_path / "sft.jsonl"
    write_jsonl(data, builtin.seeds(8))
    proc = run_flames(["logger=none", "mixture=external", f"mixture.dataset={data}", "student.max_steps=2",
                       "student.per_device_train_batch_size=2", "benchmarks.builtin_count=4",
                       "benchmarks.max_new_tokens=16"], tmp_path, tmp_path / "store", timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    store = tmp_path / "store"
    (train,) = [p.parent for p in (store / "train").glob("*/_COMPLETE")]
    done = json.loads((train / "manifest.json").read_text())
    assert done["records_in"] == done["metrics"]["examples"] == 8 and done["metrics"]["steps"] == 2
    assert (train / "model" / "config.json").exists() and any((train / "model").glob("*.safetensors"))
    card = (train / "model" / "README.md").read_text()  # the model card, next to the model
    assert "`embedded:smollm2-135m-instruct` fine-tuned" in card and "library_name: transformers" in card
    assert f"on the mixture `mix/{done['inputs']['mixture']['key']}`: 8 rows (sft 8)" in card
    assert "| `max_steps` | 2 |" in card and "rows by source (agent, or external dataset) sft 8" in card
    (evaluate,) = [p.parent for p in (store / "evaluate").glob("*/_COMPLETE")]
    ev = json.loads((evaluate / "manifest.json").read_text())
    assert ev["inputs"]["model"]["key"] == train.name  # evaluated the model it trained, not the base model
    preds = list(read_jsonl(evaluate / "data.jsonl"))
    assert len(preds) == len({p["id"] for p in preds}) == 4 and ev["metrics"]["builtin"]["n"] == 4
