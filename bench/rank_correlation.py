"""Does the shared-weight ranking predict how an architecture trains on its own?

    python bench/rank_correlation.py                          # demo preset, digits, seed 0
    python bench/rank_correlation.py --preset quick --train 16 --seed 1
    python bench/rank_correlation.py --dataset fashion-mnist   # reads ../shared/data
    python bench/rank_correlation.py --final-epochs 6          # a longer final training

Both strategies pick their architecture by its validation accuracy under the shared weights
(the search's ranking), then train it from scratch with the final budget. This runs one search
(the preset's), ranks the controller's `num_candidates` and as many uniform draws on validation
with the shared weights, trains `--train` of them (spread evenly over the ranking, best
included) with the preset's final budget, and prints the Spearman rank correlation between the
shared-weight ranking and their stand-alone test accuracies, and where each group's pick lands.
A correlation near zero means the search's pick is as good as any: a search that learns to
please the shared weights (bench/search_signal.py) cannot then beat random search at the test.
Writes bench/results/rank-correlation-<preset>-<dataset>-seed<N>-final<epochs>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from bench.quality import PROFILES, load_data  # noqa: E402
from enas_core import preset_config  # noqa: E402
from enas_core.config import Runtime  # noqa: E402
from enas_core.search import Searcher  # noqa: E402
from enas_core.spaces import network_config_for  # noqa: E402
from enas_core.train import Trainer  # noqa: E402


def spread(items: list[Any], k: int) -> list[Any]:
    """`k` items evenly spaced over a sorted list, its first (best) and last included."""
    if k >= len(items):
        return list(items)
    if k == 1:
        return items[:1]
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--dataset", default="digits", choices=["digits", "fashion-mnist"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=12, help="architectures trained alone")
    parser.add_argument("--final-epochs", type=int, default=None,
                        help="train each one this many epochs (default: the preset's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = preset_config(args.preset)
    if args.final_epochs:
        config = replace(config, train=replace(config.train, epochs=args.final_epochs))
    data = load_data(args.dataset, PROFILES["cpu"], args.data_dir, args.seed)
    runtime = Runtime(device="cpu")
    print(f"rank correlation: preset {args.preset}, {args.dataset}, seed {args.seed}, "
          f"{args.train} trained alone for {config.train.epochs} epochs, "
          f"{args.threads} thread(s)", flush=True)

    t0 = time.perf_counter()
    searcher = Searcher(config.search, data, runtime=runtime, seed=args.seed)
    while searcher.epoch < config.search.epochs:
        searcher.run_epoch()
    n = config.search.num_candidates
    # The two groups a job's search report compares, drawn as the job draws them.
    groups = {"controller": searcher.sampler("derive")(n),
              "random": searcher.uniform("control")(n)}
    ranked: dict[str, dict[str, Any]] = {}
    for group, archs in groups.items():
        for arch in archs:
            key = str(arch)
            if key not in ranked:
                ranked[key] = {"arch": arch, "groups": set(), "shared_val": searcher.evaluate(arch)}
            ranked[key]["groups"].add(group)
    search_s = time.perf_counter() - t0
    order = sorted(ranked.values(), key=lambda r: -r["shared_val"])
    picks = {g: max((r for r in order if g in r["groups"]), key=lambda r: r["shared_val"])
             for g in groups}
    chosen = spread(order, args.train)
    for pick in picks.values():
        if pick not in chosen:
            chosen.append(pick)
    print(f"  search and ranking: {search_s:.0f} s; {len(order)} distinct architectures; "
          f"training {len(chosen)} alone", flush=True)

    for i, row in enumerate(chosen):
        arch = row["arch"]
        cfg = replace(config.train, model=network_config_for(arch, config.train.model))
        trainer = Trainer(arch, cfg, data, runtime=runtime, seed=args.seed)
        while trainer.epoch < cfg.epochs:
            trainer.run_epoch()
        report = trainer.report()
        row |= {"test_acc": report["test_acc"], "params": report.get("params")}
        print(f"  {i + 1:2d}/{len(chosen)} shared val {row['shared_val']:.3f} -> test "
              f"{row['test_acc']:.4f} ({'+'.join(sorted(row['groups']))})", flush=True)

    rho, p = spearmanr([r["shared_val"] for r in chosen], [r["test_acc"] for r in chosen])
    tests = sorted((r["test_acc"] for r in chosen), reverse=True)
    print(f"\nSpearman (shared-weight val acc, stand-alone test acc) over {len(chosen)}: "
          f"{rho:+.2f} (p {p:.2f})")
    for group, pick in picks.items():
        rank = tests.index(pick["test_acc"]) + 1
        print(f"  {group:10s} pick: shared val {pick['shared_val']:.3f}, test "
              f"{pick['test_acc']:.4f} (rank {rank} of {len(chosen)} by test)")
    print(f"  best trained alone: test {tests[0]:.4f}; median {tests[len(tests) // 2]:.4f}")
    out = {
        "preset": args.preset, "dataset": args.dataset, "seed": args.seed,
        "final_epochs": config.train.epochs,
        "threads": args.threads, "search_seconds": search_s,
        "spearman": rho, "p_value": p,
        "picks": {g: {"shared_val": r["shared_val"], "test_acc": r["test_acc"],
                      "arch": r["arch"].to_json()} for g, r in picks.items()},
        "trained": [{"arch": r["arch"].to_json(), "groups": sorted(r["groups"]),
                     "shared_val": r["shared_val"], "test_acc": r["test_acc"],
                     "params": r["params"]} for r in chosen],
    }
    path = args.out or ROOT / "bench" / "results" / (
        f"rank-correlation-{args.preset}-{args.dataset}-seed{args.seed}"
        f"-final{config.train.epochs}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
