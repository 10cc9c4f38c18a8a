"""Does the search help? Arms at an equal budget, on real data, several seeds:

- enas:   the search as a job runs it (controller, shared weights, candidates ranked on
          validation), then the best candidate trained from scratch;
- enas-uniform: the same with `shared_sampling: uniform` (the shared weights trained on
          uniform draws, as random search trains them; the controller learns and picks);
- random: random search with weight sharing (Li & Talwalkar 2019): the same shared-weight
          steps and the same number of candidates ranked, drawn uniformly; its best trained
          the same way;
- hand:   a fixed hand-designed cell of the same space and network (sep convs with an identity
          skip in the normal cell, max pool and sep convs in the reduction cell), trained
          with the same final budget and no search at all;
- enas-select, random-select: enas and random with the selection stage (`select_candidates`
          8, `select_epochs` 2: the pool trained alone briefly, halved successively, the best
          trained in full): the two get the same stage, so they compare at equal compute;
- random-long: random without the stage, the stage's compute spent on a longer final
          training instead (its epochs scaled by the search network's size against the final
          one's): does the stage pay against simply training the pick longer?

Each row: test accuracy (mean and standard deviation over seeds), params, the search's
controller-vs-random gap on validation (the job's search report), wall time.

    python bench/quality.py --profile cpu             # <= 60 min on 2 cores (sizes printed)
    python bench/quality.py --profile gpu --device cuda
    python bench/quality.py --profile cpu --datasets digits --seeds 0 --jobs 1   # a smoke run
    python bench/quality.py --profile cpu-16 --arms enas-select,random-select,random-long
    python bench/quality.py --profile upload-16 --arms enas-select,random-select,random-long

Fashion-MNIST is read from ../shared/data/fashion-mnist (or --data-dir) without download.
Prints a table and writes bench/results/quality-<profile>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = ("enas", "enas-uniform", "random", "hand", "enas-select", "random-select", "random-long")
SELECT = {"candidates": 8, "epochs": 2}  # the -select arms' stage
# The hand-designed cells, written as the API writes architectures (input, op, input, op per
# node; ops 0 sep3x3, 1 sep5x5, 2 avg3x3, 3 max3x3, 4 identity; inputs 0/1 the two cell
# inputs, 2.. earlier nodes): a normal cell of sep convs chained with identity skips, and a
# reduction cell of max pools and sep convs, in the spirit of NASNet/DARTS's hand-tuned cells.
HAND_CONV = "1 0 0 0  2 0 1 4  3 1 2 4  1 0 3 0  4 0 0 4"
HAND_REDUCE = "0 3 1 0  1 3 2 0  2 1 0 3  3 0 1 2  4 0 2 4"


@dataclass(frozen=True)
class Profile:
    description: str
    datasets: tuple[str, ...]
    preset: str  # the search and final-training settings
    final_epochs: int | None = None  # None: the preset's
    fashion_train: int | None = None  # a stratified subset of Fashion-MNIST's 60,000
    fashion_test: int | None = None
    device: str = "cpu"


PROFILES = {
    "cpu": Profile(
        description="the demo preset (4 search epochs of 10 controller updates, 3-layer "
                    "16-channel networks, 2 final epochs); digits: the bundled 5,000; "
                    "Fashion-MNIST: 5,000 train + 1,000 test images drawn stratified",
        datasets=("digits", "fashion-mnist"), preset="demo",
        fashion_train=5000, fashion_test=1000),
    "cpu-quick": Profile(
        description="the quick preset (6 search epochs of 20 controller updates, 3-layer "
                    "16-channel search network, 3-layer 24-channel final network for 5 "
                    "epochs) on the cpu profile's data",
        datasets=("digits", "fashion-mnist"), preset="quick",
        fashion_train=5000, fashion_test=1000),
    "cpu-16": Profile(
        description="the demo search, then a 16-epoch final training (random-long: 28), on "
                    "Fashion-MNIST's 5,000 stratified train images, tested on all 10,000: "
                    "does the stage pay once the final training is long? (hours on 2 cores)",
        datasets=("fashion-mnist",), preset="demo", final_epochs=16, fashion_train=5000),
    "upload-16": Profile(
        description="a user's first upload: 1,000 real MNIST digits the project does not ship, "
                    "split as an upload is (810 / 90 / 100), tested on 4,000 further ones; the "
                    "demo search, then a 16-epoch final training (random-long: 28)",
        datasets=("upload",), preset="demo", final_epochs=16),
    "upload-48": Profile(
        description="the same upload and search, then a 48-epoch final training (random-long: "
                    "60), where the stage costs a quarter of it and switches itself on",
        datasets=("upload",), preset="demo", final_epochs=48),
    "gpu": Profile(
        description="the quick search on full Fashion-MNIST (55,000 / 5,000 / 10,000), then "
                    "the paper-style final network (8 layers, 36 channels, cutout, aux head) "
                    "for 100 epochs",
        datasets=("fashion-mnist",), preset="quick", device="cuda"),
}


def load_data(name: str, profile: Profile, data_dir: Path, seed: int) -> Any:
    from enas_core.data import load_builtin, make_splits

    if name == "digits":
        from enas_core import prepare_data
        return prepare_data("digits", seed=seed)
    if name == "upload":
        return upload_splits(data_dir, seed)
    train, test = load_builtin(name, data_dir, download=False)
    if profile.fashion_train:
        train = make_splits(train, None, seed=seed, test_size=profile.fashion_train).test
    return make_splits(train, test, seed=seed, test_size=profile.fashion_test)


def upload_splits(data_dir: Path, seed: int) -> Any:
    """The last 1,000 of ../shared's 10,000 MNIST digits (its first 5,000 are the bundled
    `digits`), split as the service splits an upload; the job never sees the test split, so
    it is replaced by 4,000 digits of neither (a 100-image test split measures to +-3 points)."""
    import numpy as np

    from enas_core.data import ImageDataset, Splits, make_splits

    with np.load(data_dir / "mnist-10k.npz") as z:
        x, y = z["x"][..., None], z["y"].astype(np.int64)
    upload = ImageDataset.from_arrays(x[-1000:], y[-1000:], name="upload")
    split = make_splits(upload, seed=seed)
    test = ImageDataset.from_arrays(x[5000:9000], y[5000:9000], name="upload-test")
    return Splits(split.train, split.val, test, split.mean, split.std)


def run_config(profile: Profile, arm: str, seed: int) -> Any:
    from enas_core import preset_config
    from enas_core.config import AugmentConfig, ModelConfig, SelectConfig

    config = preset_config(profile.preset)
    train = config.train
    if profile.final_epochs is not None:
        train = replace(train, epochs=profile.final_epochs)
    if profile.device == "cuda":  # the full final training of the gpu profile
        train = replace(train, epochs=100, batch_size=128,
                        model=ModelConfig(layers=8, channels=36, nodes=5, aux_head=True,
                                          drop_path=0.2),
                        augment=AugmentConfig(crop_padding=2, cutout=8))
    if arm == "random-long":
        train = replace(train, epochs=train.epochs + stage_epochs(config.search.model, train.model))
    base = arm.removesuffix("-select").removesuffix("-long")
    search = replace(config.search, strategy="random" if base == "random" else "enas",
                     shared_sampling="uniform" if base == "enas-uniform" else "controller")
    # Explicit both ways: left unset, a long enough final training would switch the stage on.
    select = SelectConfig(**SELECT) if arm.endswith("-select") else SelectConfig(candidates=0)
    return replace(config, search=search, train=train, select=select, seed=seed)


def stage_epochs(search: Any, final: Any) -> int:
    """The selection stage's compute (SELECT's epochs of the search network) in epochs of the
    final network: a cell's cost grows with channels squared (its convolutions are separable:
    the pointwise part dominates) and linearly with depth."""
    from enas_core.config import RunConfig, SelectConfig
    from enas_core.pipeline import select_epochs

    epochs = select_epochs(RunConfig(select=SelectConfig(**SELECT)))
    ratio = (search.channels / final.channels) ** 2 * search.layers / final.layers
    return max(1, round(epochs * ratio))


def run_arm(task: tuple[str, str, int, str, str, int]) -> dict[str, Any]:
    """One (dataset, arm, seed): search and final training, or final training alone."""
    dataset, arm, seed, profile_name, data_dir, threads = task
    import torch

    torch.set_num_threads(threads)
    from enas_core.config import Runtime
    from enas_core.pipeline import run_job
    from enas_core.spaces import network_config_for
    from enas_core.spaces.micro.architecture import MicroArchitecture
    from enas_core.train import Trainer

    profile = PROFILES[profile_name]
    data = load_data(dataset, profile, Path(data_dir), seed)
    config = run_config(profile, arm, seed)
    runtime = Runtime(device=profile.device)
    t0, c0 = time.perf_counter(), time.process_time()
    row: dict[str, Any] = {"dataset": dataset, "arm": arm, "seed": seed,
                           "train_size": data.train.num_samples,
                           "test_size": data.test.num_samples}
    if arm == "hand":
        arch = MicroArchitecture.parse(HAND_CONV, HAND_REDUCE)
        cfg = replace(config.train, model=network_config_for(arch, config.train.model))
        trainer = Trainer(arch, cfg, data, runtime=runtime, seed=seed)
        while trainer.epoch < cfg.epochs:
            trainer.run_epoch()
        final = trainer.report()
        row |= {"arch": arch.to_json(), "val_acc": None, "search_report": None}
    else:
        with tempfile.TemporaryDirectory() as out:
            result = run_job(config, data, out_dir=out, runtime=runtime)
        final = result.final or {}
        row |= {"arch": result.best["arch"] if result.best else None,
                "val_acc": result.best["val_acc"] if result.best else None,
                "search_report": result.search_report,
                "selection": (result.search_report or {}).get("selection")}
    row |= {"test_acc": final.get("test_acc"), "params": final.get("params"),
            "seconds": time.perf_counter() - t0,
            # CPU time: on a loaded machine, what the run would take alone on one core
            "cpu_seconds": time.process_time() - c0}
    print(f"  {dataset:13s} {arm:12s} seed {seed}: test_acc {row['test_acc']:.4f} "
          f"params {row['params']} ({row['seconds']:.0f} s, {row['cpu_seconds']:.0f} s CPU)",
          flush=True)
    return row


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        for arm in ARMS:
            group = [r for r in rows if r["dataset"] == dataset and r["arm"] == arm]
            if not group:
                continue
            accs = [r["test_acc"] for r in group]
            gaps = [r["search_report"]["difference"] for r in group
                    if r["search_report"] and r["search_report"].get("difference")]
            table.append({
                "dataset": dataset, "arm": arm, "seeds": len(group),
                "test_acc_mean": statistics.fmean(accs),
                "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "params_mean": statistics.fmean(r["params"] for r in group),
                "controller_minus_random": [
                    {"mean": g["mean"], "ci95": g["ci95"]} for g in gaps] or None,
                "seconds_mean": statistics.fmean(r["seconds"] for r in group),
                "cpu_seconds_mean": statistics.fmean(r["cpu_seconds"] for r in group),
            })
    return table


PAIRS = (("enas", "random"), ("enas-select", "random-select"),  # at equal compute
         ("random-select", "random-long"))


def paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset and pair of arms at equal compute: the mean over seeds of (a's test
    accuracy - b's) with the same seed, and its 95% t interval."""
    from scipy.stats import t as student

    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        acc = {(r["arm"], r["seed"]): r["test_acc"] for r in rows if r["dataset"] == dataset}
        for a, b in PAIRS:
            diffs = [acc[a, s] - acc[b, s] for (arm, s) in acc if arm == a and (b, s) in acc]
            if not diffs:
                continue
            mean = statistics.fmean(diffs)
            half = (student.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs)
                    / len(diffs) ** 0.5) if len(diffs) > 1 else None
            out.append({"dataset": dataset, "a": a, "b": b, "seeds": len(diffs), "mean": mean,
                        "ci95": [mean - half, mean + half] if half is not None else None})
    return out


def print_table(table: list[dict[str, Any]]) -> None:
    print(f"\n{'dataset':13s} {'arm':12s} {'seeds':>5s} {'test acc':>17s} {'params':>8s} "
          f"{'s/run':>6s} {'cpu s':>6s}  controller - random (val, per seed)")
    for t in table:
        gaps = " ".join(f"{100 * g['mean']:+.1f} [{100 * g['ci95'][0]:+.1f},"
                        f"{100 * g['ci95'][1]:+.1f}]"
                        for g in t["controller_minus_random"] or [])
        print(f"{t['dataset']:13s} {t['arm']:12s} {t['seeds']:5d} "
              f"{100 * t['test_acc_mean']:8.2f} ± {100 * t['test_acc_std']:5.2f} % "
              f"{t['params_mean']:8.0f} {t['seconds_mean']:6.0f} {t['cpu_seconds_mean']:6.0f}  "
              f"{gaps}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--datasets", default=None, help="comma-separated; default: profile's")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in the .runs.jsonl beside --out")
    args = parser.parse_args(argv)
    path = args.out or ROOT / "bench" / "results" / f"quality-{args.profile}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Each finished run is appended here at once, so a long benchmark cut short keeps its runs.
    log = path.with_suffix(".runs.jsonl")
    done = [json.loads(line) for line in log.read_text().splitlines()] \
        if args.resume and log.is_file() else []
    if not args.resume:
        log.write_text("")

    profile = PROFILES[args.profile]
    datasets = args.datasets.split(",") if args.datasets else list(profile.datasets)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    jobs = max(1, args.jobs if profile.device == "cpu" else 1)
    threads = max(1, args.threads)  # one a process: two on a busy 2-core box spin
    print(f"quality: profile {args.profile} ({profile.description}); datasets {datasets}, "
          f"seeds {seeds}, arms {arms}, {jobs} at once x {threads} threads", flush=True)
    kept = {(r["dataset"], r["arm"], r["seed"]) for r in done}
    tasks = [(d, a, s, args.profile, str(args.data_dir), threads)
             for d in datasets for s in seeds for a in arms if (d, a, s) not in kept]
    t0 = time.perf_counter()
    rows = list(done)

    def keep(row: dict[str, Any]) -> None:
        rows.append(row)
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")

    if jobs == 1:
        for task in tasks:
            keep(run_arm(task))
    else:
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(run_arm, t) for t in tasks]):
                keep(future.result())
    table = summarise(rows)
    print_table(table)
    pairs = paired(rows)
    for p in pairs:
        ci = (f" [{100 * p['ci95'][0]:+.2f}, {100 * p['ci95'][1]:+.2f}]" if p["ci95"] else "")
        print(f"{p['dataset']:13s} {p['a']} - {p['b']}: {100 * p['mean']:+.2f} points{ci} "
              f"(paired over {p['seeds']} seeds, 95% t interval)")
    wall = time.perf_counter() - t0
    cpu = sum(r["cpu_seconds"] for r in rows)
    print(f"\nwall time {wall / 60:.1f} min; CPU time {cpu / 60:.1f} min, i.e. about "
          f"{cpu / 60 / (os.cpu_count() or 1):.1f} min on an idle machine of {os.cpu_count()} "
          "cores")
    import torch

    out = {"profile": args.profile, "description": profile.description, "table": table,
           "paired": pairs,
           "runs": rows, "wall_seconds": wall, "cpu_seconds": cpu,
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "torch": torch.__version__},
           "command": " ".join(["python", "bench/quality.py", *(argv or sys.argv[1:])])}
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
