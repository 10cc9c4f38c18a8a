"""A worker beside a busy neighbour: seconds per search step with 1 thread, with torch's own
default (as many threads as cores, OpenMP's default wait policy: waiting threads spin), and
with the thread setting's default (the cores the process may use, OMP_WAIT_POLICY=PASSIVE).

    python bench/threads.py                 # --quick: 1 round, 8 timed steps per arm
    python bench/threads.py --full          # 3 rounds, 30 timed steps per arm

Each arm runs in a fresh process (OpenMP reads its wait policy when torch loads): the demo
preset's search network on the bundled digits, batch 32, a fresh architecture per step
(`Searcher.train_shared`, what a worker's search epoch spends most of its time in), one
untimed step first, then up to --steps timed steps or --budget-s seconds. Twice per round:
"idle" (whatever else the machine runs) and "busy neighbour" (a process of this script's own
that burns one core in a Python loop, at this script's niceness). Arms alternate within each
condition. Figures: wall seconds and CPU seconds per step, and busy / idle per arm. Writes
bench/results/threads.json. The aim (issue 20): beside a busy neighbour within 1.5x of idle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "threads.json"

# name -> (threads: None is torch's own default, OMP_WAIT_POLICY: None leaves it unset)
ARMS: dict[str, tuple[int | None, str | None]] = {
    "1 thread": (1, "PASSIVE"),
    "torch default (spinning)": (None, None),
    "setting's default (passive)": (0, "PASSIVE"),  # 0: enas_core.threads.available_cpus()
}
BURN = "while True:\n    pass\n"


def child(threads: int | None, steps: int, seed: int, budget_s: float) -> dict[str, Any]:
    """One arm, in this process: build the demo search, warm up, time up to `steps` steps
    (fewer where they pass `budget_s`, at least 1)."""
    sys.path.insert(0, str(ROOT))
    from dataclasses import replace

    import torch

    from enas_core import prepare_data, preset_config
    from enas_core.config import Runtime
    from enas_core.runtime import never
    from enas_core.search import Searcher
    from enas_core.threads import available_cpus

    if threads is not None:
        torch.set_num_threads(threads or available_cpus())
    config = replace(preset_config("demo").search, steps_per_epoch=1)
    searcher = Searcher(config, prepare_data("digits", seed=seed),
                        runtime=Runtime(device="cpu"), seed=seed)
    searcher.train_shared(0.05, never)  # warm-up: allocator, kernels
    walls, cpus = [], []
    started = time.perf_counter()
    while len(walls) < steps and (not walls or time.perf_counter() - started < budget_s):
        wall, cpu = time.perf_counter(), time.process_time()
        searcher.train_shared(0.05, never)  # one step: a fresh architecture, one batch
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"threads": torch.get_num_threads(), "torch": torch.__version__,
            "wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (spins)"),
            "steps": len(walls), "s_per_step": statistics.fmean(walls),
            "cpu_s_per_step": statistics.fmean(cpus), "step_seconds": walls}


def run_arm(name: str, steps: int, seed: int, budget_s: float) -> dict[str, Any]:
    threads, policy = ARMS[name]
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "ENAS_TORCH_THREADS")}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    argv = [sys.executable, __file__, "--child", "--steps", str(steps), "--seed", str(seed),
            "--budget-s", str(budget_s)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="1 round of 8 timed steps per arm (the default; about 2 minutes)")
    size.add_argument("--full", action="store_true", help="3 rounds of 30 timed steps per arm")
    parser.add_argument("--rounds", type=int, default=None, help="override the rounds")
    parser.add_argument("--steps", type=int, default=None, help="override the timed steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop an arm's timing after this long (at least 1 step; "
                             "quick: 8 s, full: 60 s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.full else 1)
    args.steps = args.steps or (30 if args.full else 8)
    args.budget_s = args.budget_s or (60.0 if args.full else 8.0)
    if args.child:
        print(json.dumps(child(args.threads, args.steps, args.seed, args.budget_s)))
        return 0

    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        # Each arm idle and beside the neighbour back to back, so that the rest of the
        # machine's load drifts over both alike; the orders alternate between rounds.
        names = list(ARMS) if r % 2 == 0 else list(reversed(ARMS))
        for name in names:
            conditions = ("idle", "busy neighbour") if r % 2 == 0 else ("busy neighbour", "idle")
            for condition in conditions:
                burner = None
                if condition == "busy neighbour":
                    burner = subprocess.Popen([sys.executable, "-c", BURN])
                    time.sleep(0.5)
                try:
                    load = load_average()
                    row = run_arm(name, args.steps, args.seed, args.budget_s)
                finally:
                    if burner is not None:
                        burner.kill()
                        burner.wait()
                row |= {"arm": name, "condition": condition, "round": r, "load_before": load}
                runs.append(row)
                print(f"  round {r} {name:28s} {condition:14s} threads {row['threads']}  "
                      f"{row['s_per_step']:.3f} s/step  {row['cpu_s_per_step']:.3f} CPU-s/step "
                      f"({row['steps']} steps, load {load:.1f})", flush=True)

    summary = {}
    print(f"\n{'arm':28s} {'threads':>7s} {'idle s/step':>12s} {'busy s/step':>12s} "
          f"{'busy/idle':>9s} {'CPU-s/step idle, busy':>22s}")
    for name in ARMS:
        def median(key: str, condition: str, name: str = name) -> float:
            return statistics.median(x[key] for x in runs
                                     if x["arm"] == name and x["condition"] == condition)

        idle, busy = median("s_per_step", "idle"), median("s_per_step", "busy neighbour")
        cpu_idle = median("cpu_s_per_step", "idle")
        cpu_busy = median("cpu_s_per_step", "busy neighbour")
        threads = next(x["threads"] for x in runs if x["arm"] == name)
        summary[name] = {"threads": threads, "idle_s_per_step": idle, "busy_s_per_step": busy,
                         "busy_over_idle": busy / idle, "idle_cpu_s_per_step": cpu_idle,
                         "busy_cpu_s_per_step": cpu_busy}
        print(f"{name:28s} {threads:7d} {idle:12.3f} {busy:12.3f} {busy / idle:8.2f}x "
              f"{cpu_idle:10.3f}, {cpu_busy:.3f}")
    result = {
        "benchmark": "threads", "preset": "demo", "dataset": "digits",
        "steps": args.steps, "budget_s": args.budget_s, "rounds": args.rounds,
        "cpu": platform.processor() or "?", "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "seconds": time.perf_counter() - started, "summary": summary, "runs": runs,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {OUT.relative_to(ROOT)} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
