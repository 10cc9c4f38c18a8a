"""The quick preset's ranking of candidates (`Searcher.derive`), in CPU seconds of one thread.

    python bench/ranking_speed.py                       # both arms, 1 round (~2 minutes)
    python bench/ranking_speed.py --arms shared         # the engine's way only (~40 s)
    python bench/ranking_speed.py --rounds 3

The quick preset's search on the bundled digits, seed 0, one torch thread, the shared weights
and the controller untrained (its draws then are about as diverse as the uniform control
group's: the least work for candidates to share). `derive()` ranks the controller's
`num_candidates` (20) draws and as many uniform ones (the control group) on `eval_batches`
(10) validation batches of 128; the digits' validation split has 450 images, so 4 batches.
The final network's latency table is loaded (or built) before the clock starts, as a search
has it by its end.

Arms, each in a fresh process, alternated within each round:
- "shared": the engine's `Searcher.evaluate_many` (each batch through every candidate, the
  work they share done once: enas_core/memo.py);
- "unshared": `evaluate_many(..., shared=False)`, each candidate through the whole network
  on each batch (`model(x, arch)`): the accuracies of the evaluation before;
- "shared-trim" (only when named): "shared" with glibc's M_TRIM_THRESHOLD at 256 MiB and
  M_MMAP_THRESHOLD at 64 MiB (`MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`), which the
  engine does not set: what the page faults cost;
- "before" (with --before-root DIR: the engine of an older checkout, e.g. `git archive
  a38c7da enas_core | tar -x -C DIR`): that engine's own derive, one `evaluate` per
  candidate, each group's repeats evaluated once, the groups' common ones twice.

Figures per arm: CPU seconds of `derive` (user + system), of which evaluation and the
candidates' pricing (`Searcher.price`: params, FLOPs, predicted latency and memory), the
system time and minor page faults, the process's peak RSS, and the architectures evaluated.
Writes bench/results/ranking_speed.json. The aim (issue 20): under 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "ranking_speed.json"
ARMS = ("shared", "unshared", "shared-trim")
# glibc returns freed memory at the top of its heap to the system past M_TRIM_THRESHOLD
# (dynamic: about twice the largest tensor freed so far), and the next allocations fault
# their pages back in; "shared-trim" runs "shared" with the threshold at 256 MiB. Setting it
# freezes the mmap threshold, dynamic too, at its 128 KiB start (then every tensor is mapped
# and faulted in afresh: 26 million faults, 4x the CPU), so that one is set, to 64 MiB.
TRIM_ENV = {"MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
            "MALLOC_MMAP_THRESHOLD_": str(64 * 2**20)}
AIM_CPU_S = 30.0


def child(arm: str, seed: int, root: Path) -> dict[str, Any]:
    """One arm, in this process, with the engine at `root`."""
    sys.path.insert(0, str(root))
    import torch

    from enas_core import prepare_data, preset_config
    from enas_core.config import Runtime
    from enas_core.search import Searcher

    torch.set_num_threads(1)
    config = preset_config("quick")
    searcher = Searcher(config.search, prepare_data("digits", seed=seed),
                        runtime=Runtime(device="cpu"), seed=seed, target=config.train.model)
    warm = searcher.uniform("warm-up")(1)[0]
    searcher.candidate(warm, 0.0)  # the latency table: loaded or built, off the clock
    searcher.evaluate(warm)  # oneDNN's first calls, off the clock

    spent = {"evaluate": 0.0, "price": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - t0
        return run

    evaluated: list[int] = []
    if arm == "before":  # that engine's own derive, one evaluate per candidate
        engine_one = searcher.evaluate

        def one(arch: Any) -> float:
            evaluated.append(1)
            return engine_one(arch)

        searcher.evaluate = timed("evaluate", one)  # type: ignore[method-assign]
    else:
        engine = searcher.evaluate_many

        def many(archs: list[Any], should_stop: Any = None) -> list[float]:
            evaluated.append(len({str(a) for a in archs}))
            return engine(archs, shared=arm != "unshared")

        searcher.evaluate_many = timed("evaluate", many)  # type: ignore[method-assign]
    searcher.price = timed("price", searcher.price)  # type: ignore[method-assign]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.process_time()
    searcher.derive()
    cpu = time.process_time() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": round(cpu, 2),
        "evaluate_cpu_s": round(spent["evaluate"], 2),
        "price_cpu_s": round(spent["price"], 3),
        "sys_s": round(r1.ru_stime - r0.ru_stime, 2),
        "minor_faults": r1.ru_minflt - r0.ru_minflt,
        "peak_rss_mib": round(r1.ru_maxrss / 1024),
        "evaluated": sum(evaluated),
        "ranked": len(searcher.ranked), "control": len(searcher.control_ranked),
        "val_acc": {str(c.arch): c.val_acc for c in searcher.ranked + searcher.control_ranked},
    }


def run_arm(arm: str, seed: int, before_root: Path | None) -> dict[str, Any]:
    root = before_root if arm == "before" else ROOT
    env = os.environ | (TRIM_ENV if arm == "shared-trim" else {})
    out = subprocess.run([sys.executable, __file__, "--child", arm, "--seed", str(seed),
                          "--root", str(root)], capture_output=True, text=True, check=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS[:2]))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before-root", type=Path,
                    help="a directory holding an older enas_core: adds the arm 'before', "
                         "that engine's own derive")
    ap.add_argument("--child", choices=(*ARMS, "before"), help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seed, args.root)))
        return
    if args.before_root:
        args.arms.append("before")
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in args.arms}
    for r in range(args.rounds):
        for arm in args.arms if r % 2 == 0 else list(reversed(args.arms)):
            res = run_arm(arm, args.seed, args.before_root)
            runs[arm].append(res)
            print(f"round {r + 1} {arm:>11}: derive {res['cpu_s']:6.2f} CPU-s (evaluation "
                  f"{res['evaluate_cpu_s']:.2f}, pricing {res['price_cpu_s']:.3f}, system "
                  f"{res['sys_s']:.2f}, {res['minor_faults']} page faults), peak RSS "
                  f"{res['peak_rss_mib']} MiB, "
                  f"{res['evaluated']} architectures evaluated", flush=True)
    accs = [run["val_acc"] for rows in runs.values() for run in rows]
    same = all(a == accs[0] for a in accs)
    summary = {arm: {"median_cpu_s": statistics.median(r["cpu_s"] for r in rows),
                     "min_cpu_s": min(r["cpu_s"] for r in rows)} for arm, rows in runs.items()}
    for arm, s in summary.items():
        verdict = "meets" if s["median_cpu_s"] < AIM_CPU_S else "misses"
        print(f"{arm}: median {s['median_cpu_s']:.2f} CPU-s over {args.rounds} round(s); "
              f"{verdict} the {AIM_CPU_S:.0f} s aim")
    print("every arm and round gave each candidate the same val_acc:", same)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "what": "CPU seconds of Searcher.derive, quick preset, digits, 1 torch thread, "
                "untrained weights and controller (bench/ranking_speed.py)",
        "aim_cpu_s": AIM_CPU_S,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                    "python": platform.python_version()},
        "same_val_acc": same, "summary": summary,
        "runs": {arm: [{k: v for k, v in r.items() if k != "val_acc"} for r in rows]
                 for arm, rows in runs.items()},
    }, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
