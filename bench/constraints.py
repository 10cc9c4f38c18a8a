"""Benchmark of the cost model behind constrained search (issue 4).

For each device (the CPU, and CUDA when present) and each search space:

- the per-op latency table: how long it takes to measure, how many pieces it holds;
- predicted against measured latency for `--archs` random architectures of the final network
  (Spearman rank correlation, mean absolute percentage error). Measured latency is the median
  of repeats after warm-up, synchronised (`metrics.measure_latency`); the architectures are
  measured round-robin, `--rounds` times, and each one's median kept, so a change in the
  machine's load over the run hits every architecture alike;
- what pricing costs the controller: microseconds per architecture for params + FLOPs, for
  memory, for predicted latency, uncached; the extra milliseconds per controller step
  (`num_aggregate` architectures), next to the time of a real controller step
  (`Searcher.train_controller`, quick preset's search network, digits) with and without limits.

On the CPU the default is one intra-op thread timed with the thread's CPU clock
(`--threads 1 --clock thread`): on a machine shared with other work, wall time also counts the
time the thread waits for a core, which is not the network's latency. `--clock wall` times
wall clock instead.

Writes `bench/results/constraints-<device>.json` per device (or `--out`) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from enas_core.config import ConstraintConfig, ModelConfig
from enas_core.costs import CostModel
from enas_core.latency import (
    LatencyTable,
    mape,
    measure_arch_latency,
    spearman,
    torch_threads,
)
from enas_core.spaces import random_architecture

RESULTS = Path(__file__).parent / "results"
INPUT = (1, 28, 28)  # digits / MNIST
CLASSES = 10
CONFIGS = {
    # the quick preset's final network, and a macro network of the same width
    "micro": ModelConfig(layers=3, channels=24, nodes=5),
    "macro": ModelConfig(space="macro", layers=6, channels=24),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Latency prediction and cost-model overhead for constrained search.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--devices", default=None,
                   help="comma-separated: cpu, cuda (default: cpu, and cuda when present)")
    p.add_argument("--spaces", default="micro,macro")
    p.add_argument("--archs", type=int, default=50, help="random architectures per space")
    p.add_argument("--rounds", type=int, default=3, help="round-robin measurement rounds")
    p.add_argument("--repeats", type=int, default=15, help="timed runs per measurement")
    p.add_argument("--batch-size", type=int, default=None,
                   help="latency batch size (default: 1 on the CPU, 32 on CUDA)")
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads")
    p.add_argument("--clock", choices=("thread", "wall"), default="thread",
                   help="CPU clock (CUDA always uses wall time, synchronised)")
    p.add_argument("--controller-steps", type=int, default=3,
                   help="controller steps timed with and without limits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON path (one device only)")
    return p.parse_args(argv)


def bench_latency(space: str, device: str,
                  args: argparse.Namespace) -> tuple[dict[str, Any], LatencyTable]:
    model = CONFIGS[space]
    cpu = device == "cpu"
    batch = args.batch_size or (1 if cpu else 32)
    clock = args.clock if cpu else "wall"
    threads = args.threads if cpu else None
    t0 = time.perf_counter()
    table = LatencyTable.measure(model, INPUT, CLASSES, device=device, batch_size=batch,
                                 threads=threads, clock=clock)
    table_s = time.perf_counter() - t0
    rng = random.Random(args.seed)
    archs = [random_architecture(model, rng) for _ in range(args.archs)]
    predicted = [table.predict(a) for a in archs]
    rounds: list[list[float]] = []
    with torch_threads(threads):
        for _ in range(args.rounds):
            rounds.append([measure_arch_latency(a, model, INPUT, CLASSES, device=device,
                                                batch_size=batch, warmup=3,
                                                repeats=args.repeats, clock=clock)
                           for a in archs])
    measured = [statistics.median(r[i] for r in rounds) for i in range(len(archs))]
    round_rho = [spearman(rounds[i], rounds[i + 1]) for i in range(len(rounds) - 1)]
    return {
        "space": space,
        "model": {k: getattr(model, k) for k in ("space", "layers", "channels", "nodes")},
        "input_shape": list(INPUT),
        "batch_size": batch,
        "threads": threads,
        "clock": clock,
        "table_entries": len(table.entries),
        "table_overhead_ms": round(table.overhead_ms, 4),
        "table_measure_s": round(table_s, 2),
        "archs": len(archs),
        "spearman": round(spearman(predicted, measured), 4),
        "mape_pct": round(mape(predicted, measured), 2),
        "measured_ms": {"min": round(min(measured), 3), "median": round(
            statistics.median(measured), 3), "max": round(max(measured), 3)},
        # how well measurement ranks itself from one round to the next: the ceiling
        "round_to_round_spearman": [round(r, 4) for r in round_rho],
        "pairs": [{"arch": str(a), "predicted_ms": round(p, 4), "measured_ms": round(m, 4)}
                  for a, p, m in zip(archs, predicted, measured, strict=True)],
    }, table


def bench_pricing(space: str, table: LatencyTable, device: str,
                  args: argparse.Namespace) -> dict[str, Any]:
    """Microseconds to price one architecture, uncached (a fresh CostModel per pass)."""
    model = CONFIGS[space]
    rng = random.Random(args.seed + 1)
    archs = [random_architecture(model, rng) for _ in range(500)]
    out = {}
    for name, kwargs in [("params_flops", {}), ("with_memory", {"memory": True}),
                         ("with_latency", {"latency": True}),
                         ("all", {"memory": True, "latency": True})]:
        price = CostModel(model, INPUT, CLASSES, device=device,
                          latency_factory=lambda arch: table)
        t0 = time.perf_counter()
        for arch in archs:
            price(arch, **kwargs)
        out[name] = round((time.perf_counter() - t0) / len(archs) * 1e6, 1)
    price = CostModel(model, INPUT, CLASSES, device=device, latency_factory=lambda arch: table)
    for arch in archs:
        price(arch, memory=True, latency=True)
    t0 = time.perf_counter()
    for arch in archs:
        price(arch, memory=True, latency=True)
    out["all_cached"] = round((time.perf_counter() - t0) / len(archs) * 1e6, 1)
    return {"us_per_arch": out}


def bench_controller_step(device: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per `Searcher.train_controller` step, without limits and with every limit
    (priced for each of the step's samples), on the quick preset's search network."""
    from enas_core.config import Runtime
    from enas_core.data import prepare_data
    from enas_core.presets import preset_config
    from enas_core.search import Searcher

    config = preset_config("quick")
    data = prepare_data("digits", seed=args.seed)
    n = config.search.controller.num_aggregate
    out: dict[str, Any] = {"num_aggregate": n}
    cpu = device == "cpu"
    limits = ConstraintConfig(max_params=10**9, max_flops=10**12, max_latency_ms=1e6,
                              max_memory_mb=1e6, mode="soft", latency_device=device,
                              latency_batch_size=args.batch_size or (1 if cpu else 32),
                              latency_threads=args.threads if cpu else None)
    for name, cons in [("no_limits", ConstraintConfig()), ("all_limits", limits)]:
        search = replace(config.search, constraints=cons,
                         controller=replace(config.search.controller,
                                            train_steps=args.controller_steps))
        searcher = Searcher(search, data, runtime=Runtime(device=device), seed=args.seed,
                            target=config.train.model)
        if cons.active:  # the table is measured once per machine; not part of a step
            searcher.price(searcher.controller.sample(1)[0], full=True)
        with torch_threads(args.threads if cpu else None):
            if not cpu:
                searcher.train_controller(lambda: False)  # warm-up: cuDNN autotuning
            t0 = time.perf_counter()
            searcher.train_controller(lambda: False)
        out[f"{name}_ms_per_step"] = round(
            (time.perf_counter() - t0) / args.controller_steps * 1e3, 2)
    out["difference_ms_per_step"] = round(out["all_limits_ms_per_step"]
                                          - out["no_limits_ms_per_step"], 2)
    return out


def pricing_overhead(result: dict[str, Any]) -> dict[str, Any]:
    """Pricing every sample of a step (uncached, every limit) against the step itself."""
    step = result["controller_step"]
    us = result["pricing"].get("micro", next(iter(result["pricing"].values())))["us_per_arch"]
    extra_ms = us["all"] * step["num_aggregate"] / 1e3
    return {"extra_ms_per_step_uncached": round(extra_ms, 3),
            "pct_of_step": round(100 * extra_ms / step["no_limits_ms_per_step"], 3)}


def run_device(device: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "bench": "constraints",
        "device": device,
        "device_name": (torch.cuda.get_device_name() if device == "cuda"
                        else platform.processor() or platform.machine()),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "latency": [],
        "pricing": {},
    }
    for space in args.spaces.split(","):
        lat, table = bench_latency(space, device, args)
        result["latency"].append(lat)
        result["pricing"][space] = bench_pricing(space, table, device, args)
        print(f"[{device}] {space}: spearman {lat['spearman']:.3f}, MAPE {lat['mape_pct']:.1f}% "
              f"over {lat['archs']} archs ({lat['measured_ms']['min']}..."
              f"{lat['measured_ms']['max']} ms, batch {lat['batch_size']}, "
              f"{lat['clock']} clock); round-to-round spearman "
              f"{lat['round_to_round_spearman']}; table {lat['table_entries']} ops in "
              f"{lat['table_measure_s']} s", flush=True)
        print(f"[{device}] {space}: pricing us/arch {result['pricing'][space]['us_per_arch']}",
              flush=True)
    result["controller_step"] = bench_controller_step(device, args)
    result["controller_step"] |= pricing_overhead(result)
    print(f"[{device}] controller step: {result['controller_step']}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    devices = (args.devices.split(",") if args.devices
               else ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if args.out and len(devices) > 1:
        sys.exit("--out takes one device")
    for device in devices:
        result = run_device(device, args)
        out = Path(args.out) if args.out else RESULTS / f"constraints-{device}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
