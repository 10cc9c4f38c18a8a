"""A user's first upload: does final training on 1,000 real digits learn?

    python bench/small_upload.py                      # 3 architectures, both uploads, all arms
    python bench/small_upload.py --archs 5 --arms default

The `quick` preset's final training (24 channels, 5 epochs, batch 128) on two 1,000-image
uploads of real MNIST digits, split as every upload is (810 / 90 / 100):
- `bundled`: the first 1,000 of the digits the project ships (what `enas example-data` writes);
- `held-out`: 1,000 digits the project does not ship (the last 1,000 of ../shared's 10,000).
Architectures: the README's example and `--archs - 1` uniform draws of the quick search space.
Arms, each the same training otherwise:
- `stale-bn`: as before the fix: evaluation with BN's running averages as training left them,
  batch 128 (6 steps an epoch);
- `recalibrated`: BN statistics recomputed on training images before each evaluation;
- `default`: that, and the batch made smaller so an epoch has >= 25 steps (batch 32 here).
Prints test accuracy per run and writes bench/results/small-upload.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from enas_core.data import load_digits, load_file, make_splits  # noqa: E402
from enas_core.presets import preset_config  # noqa: E402
from enas_core.spaces import get_space, network_config_for, random_architecture  # noqa: E402
from enas_core.train import Trainer  # noqa: E402

README_ARCH = ("1 2 1 3 0 1 0 4 1 1 1 1 0 1 0 1 1 0 0 1",
               "0 1 0 4 1 0 2 0 0 3 1 1 0 0 0 0 4 1 1 0")
ARMS = ("stale-bn", "recalibrated", "default")


def uploads(data_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    bundled = load_digits()
    found = {"bundled": (bundled.x[:1000, :, :, 0], bundled.y[:1000])}
    path = data_dir / "mnist-10k.npz"
    if path.exists():
        with np.load(path) as z:  # the first 5,000 are the bundled ones
            found["held-out"] = (z["x"][-1000:], z["y"][-1000:])
    return found


def train(arch: Any, data: Any, arm: str, seed: int) -> dict[str, Any]:
    config = preset_config("quick").train
    config = replace(config, model=network_config_for(arch, config.model),
                     min_steps_per_epoch=config.min_steps_per_epoch if arm == "default" else 0)
    trainer = Trainer(arch, config, data, seed=seed)
    if arm == "stale-bn":
        trainer.recalibrate = lambda: None  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    while trainer.epoch < config.epochs:
        trainer.run_epoch()
    report = trainer.report()
    return {"test_acc": report["test_acc"], "val_acc": report["val_acc"],
            "train_acc": report["train_acc"], "batch_size": report["batch_size"],
            "warnings": [w["code"] for w in report["warnings"]],
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=3)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "small-upload.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    arms = args.arms.split(",")
    model = preset_config("quick").search.model
    rng = random.Random(args.seed)
    archs = [get_space("micro").parse(*README_ARCH)]
    archs += [random_architecture(model, rng) for _ in range(args.archs - 1)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (x, y) in uploads(args.data_dir).items():
            path = Path(tmp) / f"{name}.npz"
            np.savez(path, x=x, y=y)
            data = make_splits(load_file(path), seed=args.seed)
            for i, arch in enumerate(archs):
                for arm in arms:
                    row = {"upload": name, "arch_index": i, "arch": arch.to_json(), "arm": arm}
                    row |= train(arch, data, arm, args.seed)
                    rows.append(row)
                    print(f"{name:9s} arch {i} {arm:12s} test_acc {row['test_acc']:.3f} "
                          f"val_acc {row['val_acc']:.3f} train_acc {row['train_acc']:.3f} "
                          f"batch {row['batch_size']} {row['warnings'] or ''} "
                          f"({row['cpu_seconds']:.0f} CPU-s)", flush=True)
    summary = {}
    for name in dict.fromkeys(r["upload"] for r in rows):
        for arm in arms:
            accs = [r["test_acc"] for r in rows if r["upload"] == name and r["arm"] == arm]
            summary[f"{name}/{arm}"] = {"mean": statistics.fmean(accs), "min": min(accs),
                                        "max": max(accs), "runs": len(accs)}
            print(f"{name:9s} {arm:12s} test_acc mean {summary[f'{name}/{arm}']['mean']:.3f} "
                  f"(min {min(accs):.3f}, max {max(accs):.3f}, {len(accs)} architectures)")
    out = {"benchmark": "small_upload", "command": " ".join(["python bench/small_upload.py",
                                                             *(argv or sys.argv[1:])]),
           "machine": {"cpu": platform.processor() or platform.machine(),
                       "threads": args.threads, "torch": torch.__version__},
           "rows": rows, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"written: {args.out}")
    return out


if __name__ == "__main__":
    main()
