"""A ground-truth table of our own search space (a small NAS-Bench): architectures trained alone.

    python bench/space_table.py --dataset digits             # resumes where it stopped
    python bench/space_table.py --dataset fashion-mnist --jobs 2
    python bench/space_table.py --dataset digits --picks bench/results/quality-cpu.json
    python bench/space_table.py --dataset fashion-mnist --device cuda --jobs 1   # minutes

`--archs` architectures drawn uniformly (fixed seed) from the space the short presets search
(micro, 5 nodes), plus, with `--picks`, the ones the arms of bench/quality.py picked; each
trained alone with ONE protocol (below), with seed 0, and the first `--second-seed` of them with
seed 1 too, so the seed-to-seed noise can be set against the spread between architectures.
Splits are fixed (data seed 0) whatever the training seed: only initialisation and batch order
change between seeds.

Protocol: the demo preset's final network (3 layers, 16 channels, 5 nodes, batch 128, SGD
cosine from 0.05, BN statistics recomputed before each evaluation), `--epochs` epochs (6), on
the bundled digits (4,050 / 450) tested on the 5,000 digits of ../shared/data/mnist-10k.npz
the package does not ship, or a stratified 5,000-image subset of Fashion-MNIST's training set
(4,500 / 500) tested on its full test set (10,000). Testing is cheap next to training, and
large test sets keep the measurement noise (about 0.5 points at 10,000 images, 1.1 at 1,000)
below the spread between architectures.

Each finished training is written at once to bench/tables/<dataset>.json (committed): per row
the architecture (JSON and text), the seed, validation accuracy after every epoch, test
accuracy, params, FLOPs and CPU seconds; the protocol, the command and the machine at the top.
bench/ranking.py scores ranking signals against it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLES = ROOT / "bench" / "tables"
ARCH_SEED = 2026  # the uniform draws: the same list every time


def protocol(epochs: int) -> dict[str, Any]:
    return {"network": "demo preset's final network: micro, 3 layers, 16 channels, 5 nodes",
            "epochs": epochs, "batch_size": 128, "lr_max": 0.05, "schedule": "cosine per step",
            "batch_norm": "statistics recomputed on training images before each evaluation",
            "splits": {"digits": "bundled 5,000: 4,050 train / 450 val; test: the 5,000 "
                                 "digits of mnist-10k.npz not in the bundle",
                       "fashion-mnist": "stratified 5,000 of the training set (4,500 / 500); "
                                        "test: the full test set (10,000)"},
            "data_seed": 0}


def train_config(epochs: int) -> Any:
    from enas_core import preset_config

    return replace(preset_config("demo").train, epochs=epochs)


def load(dataset: str, data_dir: Path) -> Any:
    import numpy as np

    from bench.quality import PROFILES, load_data
    from enas_core.data import ImageDataset

    if dataset == "fashion-mnist":
        return load_data(dataset, replace(PROFILES["cpu"], fashion_test=None), data_dir, 0)
    data = load_data(dataset, PROFILES["cpu"], data_dir, 0)
    with np.load(data_dir / "mnist-10k.npz") as z:  # the first 5,000 are the bundled ones
        x, y = z["x"][5000:], z["y"][5000:].astype(np.int64)
    x = x.reshape(len(x), 28, 28, 1) if x.ndim == 3 else x
    test = ImageDataset(x.astype(np.uint8), y, data.train.classes, name="mnist-10k held out")
    return replace(data, test=test)


def draw(n: int) -> list[Any]:
    """`n` architectures drawn uniformly from the short presets' search space, always the same."""
    from enas_core import preset_config
    from enas_core.spaces import random_architecture

    model = preset_config("quick").search.model
    rng = random.Random(ARCH_SEED)
    return [random_architecture(model, rng) for _ in range(n)]


def key(arch_json: dict[str, Any]) -> str:
    return f"{arch_json['conv_text']} | {arch_json['reduce_text']}"


def train_one(task: tuple[dict[str, Any], int, str, str, int, int, str]) -> dict[str, Any]:
    arch_json, seed, dataset, data_dir, epochs, threads, device = task
    import torch

    torch.set_num_threads(threads)
    from enas_core.config import Runtime
    from enas_core.metrics import measure_flops, measure_params
    from enas_core.spaces import arch_from_json, network_config_for
    from enas_core.train import Trainer

    data = load(dataset, Path(data_dir))
    arch = arch_from_json(arch_json)
    cfg = train_config(epochs)
    cfg = replace(cfg, model=network_config_for(arch, cfg.model))
    c0, t0 = time.process_time(), time.perf_counter()
    trainer = Trainer(arch, cfg, data, runtime=Runtime(device=device), seed=seed)
    while trainer.epoch < cfg.epochs:
        trainer.run_epoch()
    test_loss, test_acc = trainer.evaluate("test")
    return {"key": key(arch_json), "arch": arch_json, "seed": seed,
            "val_acc": [h["val_acc"] for h in trainer.history],
            "train_acc": [h["train_acc"] for h in trainer.history],
            "test_acc": test_acc, "test_loss": test_loss,
            "params": measure_params(trainer.model),
            "flops": measure_flops(trainer.model, trainer.input_shape),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def picked(paths: list[Path], dataset: str) -> list[dict[str, Any]]:
    """The architectures bench/quality.py's arms picked on `dataset` (its JSON or .runs.jsonl)."""
    found = []
    for path in paths:
        text = path.read_text()
        rows = (json.loads(text)["runs"] if path.suffix == ".json"
                else [json.loads(line) for line in text.splitlines() if line.strip()])
        found += [r["arch"] for r in rows if r["dataset"] == dataset and r.get("arch")]
    return found


def extremes(reference: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """The `k` best and `k` worst architectures of a table by their mean over seeds, among those
    it trained with two seeds (a one-seed extreme is mostly its seed's luck): trained again
    at another budget, they show how the spread between architectures moves with the budget."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in reference["rows"]:
        by.setdefault(r["key"], []).append(r)
    two = sorted((rs for rs in by.values() if len(rs) >= 2),
                 key=lambda rs: statistics.fmean(r["test_acc"] for r in rs))
    return [rs[0]["arch"] for rs in two[-k:][::-1] + two[:k]]


def noise(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Seed-to-seed noise (|test acc seed 0 - seed 1| over architectures with both) against the
    spread between architectures (std of seed-0 test accuracies)."""
    by = {}
    for r in rows:
        by.setdefault(r["key"], {})[r["seed"]] = r["test_acc"]
    pairs = [(s[0], s[1]) for s in by.values() if 0 in s and 1 in s]
    first = [s[0] for s in by.values() if 0 in s]
    if len(pairs) < 2 or len(first) < 2:
        return None
    diffs = [a - b for a, b in pairs]
    return {"pairs": len(pairs),
            "seed_std": statistics.pstdev(diffs) / 2 ** 0.5,  # of one run, from differences
            "mean_abs_seed_difference": statistics.fmean(abs(d) for d in diffs),
            "architecture_std": statistics.stdev(first),
            "seed_correlation": _pearson([a for a, _ in pairs], [b for _, b in pairs])}


def _pearson(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or statistics.pstdev(a) == 0 or statistics.pstdev(b) == 0:
        return None
    return statistics.correlation(a, b)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("digits", "fashion-mnist"), default="digits")
    parser.add_argument("--archs", type=int, default=60, help="uniform draws")
    parser.add_argument("--second-seed", type=int, default=20,
                        help="the first N draws are trained with seed 1 too")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--picks", type=Path, nargs="*", default=[],
                        help="bench/quality.py outputs whose picked architectures to add")
    parser.add_argument("--extremes", type=int, default=None, metavar="K",
                        help="train only the K best and K worst two-seed architectures of "
                             "the dataset's table (its budget against this one), seed 0")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (processes)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training")
    parser.add_argument("--limit", type=int, default=None, help="stop after N new trainings")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    path = args.out or TABLES / f"{args.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    table: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if table and table.get("protocol", {}).get("epochs") != args.epochs:
        sys.exit(f"{path} was built with {table['protocol']['epochs']} epochs; "
                 "one table, one protocol (use --out for another)")
    rows: list[dict[str, Any]] = table.get("rows", [])
    done = {(r["key"], r["seed"]) for r in rows}

    archs = [a.to_json() for a in draw(args.archs)]
    extra = picked(args.picks, args.dataset)
    if args.extremes is not None:
        if path == TABLES / f"{args.dataset}.json":
            sys.exit("--extremes trains at another budget: give it its own --out")
        reference = json.loads((TABLES / f"{args.dataset}.json").read_text())
        archs, extra, args.second_seed = extremes(reference, args.extremes), [], 0
    # the 2-seed architectures first, both seeds side by side: the noise is known early
    tasks = [(a, s) for a in archs[: args.second_seed] for s in (0, 1)]
    tasks += [(a, 0) for a in archs[args.second_seed:]]
    tasks += [(a, 0) for a in extra]
    seen: set[tuple[str, int]] = set()
    todo = []
    for arch, seed in tasks:
        k = (key(arch), seed)
        if k not in done and k not in seen:
            seen.add(k)
            todo.append((arch, seed))
    todo = todo[: args.limit] if args.limit is not None else todo
    jobs = max(1, args.jobs)
    # one thread per process: two threads per training on a busy 2-core box spin on each other
    threads = max(1, args.threads)
    print(f"space table: {args.dataset}, {len(rows)} trainings done, {len(todo)} to go "
          f"({jobs} at once x {threads} threads, {args.epochs} epochs each)", flush=True)
    import torch

    header = {"dataset": args.dataset, "protocol": protocol(args.epochs),
              "arch_seed": ARCH_SEED, "archs": args.archs, "second_seed": args.second_seed,
              "command": " ".join(["python bench/space_table.py", *(argv or sys.argv[1:])]),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "device": args.device,
                          "threads": threads, "jobs": jobs},
              "picks": [key(a) for a in extra]}

    def save() -> None:
        ordered = sorted(rows, key=lambda r: (r["seed"], r["key"]))
        cost = sum(r["cpu_seconds"] for r in rows)
        out = header | {"trainings": len(rows), "cpu_seconds": cost,
                        "noise": noise(rows), "rows": ordered}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1) + "\n")
        tmp.replace(path)  # a run cut short keeps every training it finished

    def keep(row: dict[str, Any]) -> None:
        rows.append(row)
        save()
        print(f"  {len(rows):3d} seed {row['seed']} test {row['test_acc']:.4f} val "
              f"{row['val_acc'][-1]:.4f} params {row['params']:,} "
              f"({row['cpu_seconds']:.0f} CPU-s)  {row['key']}", flush=True)

    work = [(a, s, args.dataset, str(args.data_dir), args.epochs, threads, args.device)
            for a, s in todo]
    if jobs == 1:
        for task in work:
            keep(train_one(task))
    else:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(train_one, t) for t in work]):
                keep(future.result())
    save()
    n = noise(rows)
    if n:
        print(f"noise: {n['pairs']} architectures with 2 seeds, one run's std "
              f"{100 * n['seed_std']:.2f} points; spread between architectures (std) "
              f"{100 * n['architecture_std']:.2f} points")
    print(f"wrote {path} ({len(rows)} trainings, "
          f"{sum(r['cpu_seconds'] for r in rows) / 3600:.2f} CPU-hours)")
    return json.loads(path.read_text())


if __name__ == "__main__":
    main()
