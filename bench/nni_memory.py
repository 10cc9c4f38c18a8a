"""Peak memory and CPU time of a search step, ours against NNI v2.8's `EnasTrainer`, side by side.

    python bench/nni_memory.py --nni-python /tmp/nni-venv/bin/python
    python bench/nni_memory.py --nni-python /tmp/nni-venv/bin/python --baseline-root /work/main

The configuration of issue 20: Fashion-MNIST (55,000 training images), 6 layers, 20 channels,
5 nodes, batch 128, no augmentation, one torch thread, SGD with Nesterov momentum and gradient
clipping, a fresh architecture from each side's initial controller at every step. Each arm runs
in its own fresh process (this parent imports no torch: a child started by vfork inherits the
parent's RSS high-water mark at exec), the arms alternated over `--rounds` rounds. Per run:

- images per CPU-second: the process's CPU time (user + system) over `--steps` timed steps,
  after `--warmup` untimed ones (CPU time, not wall: the machine is shared);
- peak RSS: the child's `ru_maxrss` after its timed steps, before anything else;
- RSS after imports (torch and the side's training code, before data and model);
- GFLOP per image, forward + backward, of the architectures timed: `FlopCounterMode` on a
  meta-device copy of the model (shapes only), the depthwise weight gradient's count divided
  by its groups (bench/engine.py's `ConvTally`); counted after the peak is read.

Arms: `ours` (this tree's engine, the project's Python), `nni` (NNI 2.8 from `--nni-python`,
with the network of bench/nni_space.py), and with `--baseline-root` `ours@<root>` (the engine
of another checkout, e.g. main, for before/after in the same run). Prints a table and writes
bench/results/nni-memory.json. NNI's install: see bench/nni_compare.py's docstring.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIRS = [ROOT.parent / "shared" / "data" / "fashion-mnist",
             Path("/work/shared/data/fashion-mnist"), Path("/usr/share/datasets/fashion-mnist")]
DEFAULT_DATA = next((d for d in DATA_DIRS if d.is_dir()), DATA_DIRS[0])
CONFIG = {"layers": 6, "channels": 20, "nodes": 5, "batch_size": 128}
VAL = 5_000  # held out of the 60,000 training images, as bench/engine.py does


def rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_s() -> float:
    return time.process_time()


# --------------------------------------------------------------------------------------------
# FLOPs (in the children, after the peak is read; imports torch's flop counter lazily)
# --------------------------------------------------------------------------------------------


def flop_counter(batch: int) -> tuple[Callable[[Callable[[], Any]], float], Any]:
    """A function that runs `step()` (forward + backward on the meta device) under
    FlopCounterMode and returns GFLOP per image, grouped-conv weight gradients corrected."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

    aten = torch.ops.aten

    def t(shape: Sequence[int]) -> list[int]:
        return [shape[1], shape[0], *shape[2:]]

    def backward(grad_out_shape: Any, x_shape: Any, w_shape: Any, _b: Any, _s: Any, _p: Any,
                 _d: Any, transposed: bool, _op: Any, groups: int, output_mask: Any,
                 out_shape: Any = None, **_: Any) -> int:
        total = 0
        if output_mask[0]:
            total += conv_flop_count(list(grad_out_shape), list(w_shape), list(out_shape[0]),
                                     not transposed)
        if output_mask[1]:
            a, b = (grad_out_shape, x_shape) if transposed else (x_shape, grad_out_shape)
            total += conv_flop_count(t(a), t(b), t(out_shape[1]), False) // groups
        return total

    def count(step: Callable[[], Any]) -> float:
        with FlopCounterMode(display=False, custom_mapping={
                aten.convolution_backward: backward}) as counter:
            step()
        return counter.get_total_flops() / batch / 1e9

    return count, torch


# --------------------------------------------------------------------------------------------
# Our arm
# --------------------------------------------------------------------------------------------


def child_ours(args: argparse.Namespace) -> dict[str, Any]:
    if args.root:
        sys.path.insert(0, args.root)
    import torch

    torch.set_num_threads(args.threads)
    from enas_core.config import AugmentConfig, ModelConfig, Runtime, SearchConfig
    from enas_core.data import load_builtin, make_splits
    from enas_core.search import Searcher

    after_imports = rss_now_mib()
    train, test = load_builtin("fashion-mnist", args.data_dir, download=False)
    splits = make_splits(train, test, seed=args.seed, val_size=VAL)
    config = SearchConfig(
        model=ModelConfig(layers=CONFIG["layers"], channels=CONFIG["channels"],
                          nodes=CONFIG["nodes"]),
        batch_size=CONFIG["batch_size"], eval_batch_size=CONFIG["batch_size"],
        augment=AugmentConfig())
    searcher = Searcher(config, splits, runtime=Runtime(device="cpu"), seed=args.seed)
    archs: list[Any] = []
    hook = searcher.model.register_forward_pre_hook(lambda _m, a: archs.append(a[1]))

    def run(steps: int) -> float:
        from dataclasses import replace

        searcher.config = replace(config, steps_per_epoch=steps)
        c0 = cpu_s()
        searcher.train_shared(config.lr_max, lambda: False)
        return cpu_s() - c0

    run(args.warmup)
    archs.clear()
    seconds = run(args.steps)
    result = {"cpu_s": seconds, "peak_rss_mib": peak_mib(), "rss_after_imports_mib": after_imports,
              "rss_end_mib": rss_now_mib(), "train_images": splits.train.num_samples}
    hook.remove()

    count, torch = flop_counter(CONFIG["batch_size"])
    from enas_core.spaces import build_search_model

    h, w, c = splits.train.image_shape
    with torch.device("meta"):
        meta = build_search_model(config.model, c, splits.train.num_classes)
    x = torch.empty(CONFIG["batch_size"], c, h, w, device="meta")
    y = torch.zeros(CONFIG["batch_size"], dtype=torch.long, device="meta")
    meta.train()
    result["gflop_per_image"] = statistics.fmean(
        count(lambda a=a: torch.nn.functional.cross_entropy(meta(x, a), y).backward())
        for a in archs)
    return result


# --------------------------------------------------------------------------------------------
# NNI's arm (NNI's environment: torch and NNI, not this project's engine)
# --------------------------------------------------------------------------------------------


def read_idx(path: Path) -> Any:
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Batches:
    """The uint8 images held once; a batch is indexed, converted to float and normalised (what
    a torchvision dataset with ToTensor + Normalize does, without per-sample Python)."""

    def __init__(self, x: Any, y: Any, batch: int, steps: int, seed: int) -> None:
        import torch

        self.torch = torch
        self.x = torch.from_numpy(x.copy()).unsqueeze(1)  # N, 1, 28, 28 uint8
        self.y = torch.from_numpy(y.astype("int64"))
        self.batch, self.steps = batch, steps
        self.gen = torch.Generator().manual_seed(seed)
        mean, std = 0.2860, 0.3530  # Fashion-MNIST's training images
        self.scale, self.shift = 1 / 255 / std, -mean / std

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        order = self.torch.randperm(len(self.y), generator=self.gen)
        for i in range(self.steps):
            idx = order[i * self.batch:(i + 1) * self.batch]
            yield self.x[idx].float() * self.scale + self.shift, self.y[idx]


def child_nni(args: argparse.Namespace) -> dict[str, Any]:
    import copy
    import warnings

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # NNI 2.8 on a newer torch: deprecation warnings
    from nni.retiarii.oneshot.pytorch import EnasTrainer

    sys.path.insert(0, str(ROOT / "bench"))
    from nni_space import nni_network

    after_imports = rss_now_mib()
    folder = Path(args.data_dir)
    x = read_idx(folder / "train-images-idx3-ubyte.gz")[:-VAL]
    y = read_idx(folder / "train-labels-idx1-ubyte.gz")[:-VAL]
    torch.manual_seed(args.seed)
    model = nni_network(1, 10, CONFIG["channels"], CONFIG["nodes"], CONFIG["layers"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)
    trainer = EnasTrainer(
        model, loss=F.cross_entropy, metrics=lambda logits, y: {},
        reward_function=lambda *_: 0.0, optimizer=optimizer, num_epochs=1,
        dataset=[(0, 0)] * 2, batch_size=CONFIG["batch_size"], workers=0,
        device=torch.device("cpu"), grad_clip=5.0)
    sampled: list[list[Any]] = []
    resample = trainer._resample

    def record() -> None:  # the architecture of each step, for the FLOP count
        resample()
        sampled.append([copy.deepcopy(m.sampled) for _, m in trainer.nas_modules])

    trainer._resample = record

    def run(steps: int) -> float:
        trainer.train_loader = Batches(x, y, CONFIG["batch_size"], steps, args.seed + steps)
        c0 = cpu_s()
        trainer._train_model(0)  # the shared-weight half of EnasTrainer.fit's epoch
        return cpu_s() - c0

    run(args.warmup)
    sampled.clear()
    seconds = run(args.steps)
    result = {"cpu_s": seconds, "peak_rss_mib": peak_mib(), "rss_after_imports_mib": after_imports,
              "rss_end_mib": rss_now_mib(), "train_images": len(y)}

    count, torch = flop_counter(CONFIG["batch_size"])
    meta, choices = copy.deepcopy((trainer.model, [m for _, m in trainer.nas_modules]))
    meta.to("meta")
    xm = torch.empty(CONFIG["batch_size"], 1, 28, 28, device="meta")
    ym = torch.zeros(CONFIG["batch_size"], dtype=torch.long, device="meta")

    def step(choice: list[Any]) -> None:
        for module, value in zip(choices, choice, strict=True):
            module.sampled = value
        F.cross_entropy(meta(xm), ym).backward()

    result["gflop_per_image"] = statistics.fmean(count(lambda c=c: step(c)) for c in sampled)
    return result


# --------------------------------------------------------------------------------------------
# Parent: no torch here
# --------------------------------------------------------------------------------------------


def run_child(python: str, arm: str, args: argparse.Namespace, root: str | None,
              env_extra: dict[str, str]) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--child", arm, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads), "--seed",
           str(args.seed), "--data-dir", str(args.data_dir)]
    if root:
        cmd += ["--root", root]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    if arm == "ours":
        tree = root or str(ROOT)
        env["PYTHONPATH"] = f"{tree}:{tree}/clients/python"
    env |= env_extra
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    out, err = proc.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative; only the max is used
    if proc.returncode:
        raise SystemExit(f"{arm} failed ({proc.returncode}):\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    result["children_max_rss_mib"] = usage.ru_maxrss / 1024
    result["images_per_cpu_s"] = args.steps * CONFIG["batch_size"] / result["cpu_s"]
    return result


def git_commit(root: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nni-python", default="/tmp/nni-venv/bin/python",
                   help="a Python with NNI 2.8 and torch (default: /tmp/nni-venv/bin/python)")
    p.add_argument("--ours-python", default=sys.executable)
    p.add_argument("--baseline-root", default=None,
                   help="another checkout whose engine runs as an extra arm (e.g. /work/main)")
    p.add_argument("--arms", default=None,
                   help="comma-separated subset of ours, nni, baseline (default: all given)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=12, help="timed steps per run (default: 12)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                   help="folder with Fashion-MNIST's IDX files (default: the first of "
                   + ", ".join(map(str, DATA_DIRS)) + " that exists)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nni-memory.json")
    p.add_argument("--child", choices=("ours", "nni"), help=argparse.SUPPRESS)
    p.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        result = child_ours(args) if args.child == "ours" else child_nni(args)
        print(json.dumps(result))
        return result

    arms: dict[str, tuple[str, str, str | None]] = {
        "ours": (args.ours_python, "ours", None),
        "nni": (args.nni_python, "nni", None),
    }
    if args.baseline_root:
        arms[f"ours@{args.baseline_root}"] = (args.ours_python, "ours", args.baseline_root)
    if args.arms:
        keep = set(args.arms.split(","))
        arms = {k: v for k, v in arms.items()
                if k in keep or (k.startswith("ours@") and "baseline" in keep)}
    names = list(arms)
    load0 = os.getloadavg()
    print(f"nni memory: fashion-mnist, {CONFIG}, {args.steps} timed steps (+{args.warmup}), "
          f"{args.threads} thread(s), {args.rounds} rounds; load {load0[0]:.2f}", flush=True)
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]  # alternated
        row: dict[str, Any] = {}
        for name in order:
            python, kind, root = arms[name]
            res = run_child(python, kind, args, root, {})
            row[name] = res
            print(f"  round {r + 1} {name:>20}: {res['images_per_cpu_s']:6.1f} img/CPU-s, peak "
                  f"{res['peak_rss_mib']:6.0f} MiB, imports {res['rss_after_imports_mib']:4.0f} "
                  f"MiB, {res['gflop_per_image']:.3f} GFLOP/img", flush=True)
        rounds.append(row)
    means = {name: {key: statistics.fmean(r[name][key] for r in rounds)
                    for key in ("images_per_cpu_s", "peak_rss_mib", "rss_after_imports_mib",
                                "gflop_per_image")} for name in names}
    for m in means.values():
        m["gflop_per_cpu_s"] = m["images_per_cpu_s"] * m["gflop_per_image"]
        m["peak_rss_mib_max"] = 0.0
    for name in names:
        means[name]["peak_rss_mib_max"] = max(r[name]["peak_rss_mib"] for r in rounds)
    print(f"\n{'arm':>24} {'img/CPU-s':>10} {'peak MiB':>9} {'max peak':>9} {'imports':>8} "
          f"{'GFLOP/img':>10} {'GFLOP/CPU-s':>12}")
    for name, m in means.items():
        print(f"{name:>24} {m['images_per_cpu_s']:10.1f} {m['peak_rss_mib']:9.0f} "
              f"{m['peak_rss_mib_max']:9.0f} {m['rss_after_imports_mib']:8.0f} "
              f"{m['gflop_per_image']:10.3f} {m['gflop_per_cpu_s']:12.1f}")
    if "nni" in means and "ours" in means:
        o, n = means["ours"], means["nni"]
        print(f"ours / nni: {o['images_per_cpu_s'] / n['images_per_cpu_s']:.2f}x img/CPU-s, "
              f"peak {o['peak_rss_mib'] / n['peak_rss_mib']:.2f}x")
    out = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "config": CONFIG,
        "data": "fashion-mnist, 55,000 training images", "steps": args.steps,
        "warmup": args.warmup, "threads": args.threads, "seed": args.seed,
        "rounds": rounds, "means": means, "arms": {k: {"python": v[0], "root": v[2] or str(ROOT)}
                                                   for k, v in arms.items()},
        "commit": git_commit(ROOT),
        "baseline_commit": git_commit(Path(args.baseline_root)) if args.baseline_root else None,
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average": {"start": list(load0), "end": list(os.getloadavg())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
