"""Benchmark of the ENAS engine (`enas_core`) for the configuration issue 2 states.

Fashion-MNIST 28x28x1, 6 layers (2 cells per stage), 20 channels, 5 nodes, batch 128, no
augmentation. Measures, through the engine's own code paths (`Searcher.train_shared`,
`Searcher.train_controller`, `Searcher.evaluate`, `MicroController.sample`, `Reinforce.step`):

- shared-model training images/s (warm-up excluded; a fresh architecture every step),
- forward+backward FLOPs per image of the sampled children (`FlopCounterMode`, with its
  grouped-convolution backward over-count corrected) and the achieved GFLOP/s,
- controller sampling and update time per architecture, controller-phase step time,
- seconds per search epoch (extrapolated from the measured phases), peak memory,
- variants: fp32 / TF32 / bf16 autocast, channels_last, the dataset on the device
  (`DeviceLoader`) against a torch `DataLoader` over a `TensorDataset`,
- on CUDA: kernels per training step (torch.profiler) and host-device syncs inside a step;
  on the CPU: a torch.profiler breakdown of a training step by op kind.

Writes one JSON document (`bench/results/engine-<device>.json` unless `--out`) and prints a
summary. `python bench/engine.py --help` lists the options; bench/README.md explains the output.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler, TensorDataset
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from enas_core.config import AugmentConfig, ControllerConfig, ModelConfig, Runtime, SearchConfig
from enas_core.data import (
    DatasetError,
    DeviceLoader,
    ImageDataset,
    Splits,
    load_builtin,
    load_digits,
    make_splits,
)
from enas_core.runtime import cycle, never
from enas_core.search import Searcher
from enas_core.spaces import build_search_model
from enas_core.spaces.micro.architecture import MicroArchitecture

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = 1
aten = torch.ops.aten

# The configuration issue 2 states; flags may shrink it (the smoke test does), and the result
# then says it is not the stated one and leaves the targets unjudged.
STATED = {"layers": 6, "channels": 20, "nodes": 5, "batch_size": 128, "num_aggregate": 10}
FASHION_VAL = 5_000  # 60,000 train -> 55,000 / 5,000, the seed study's MNIST split

# Comparison figures from issue 2 ("Benchmarks and speed targets").
REFERENCE = {
    "source": "issue 2, 'Benchmarks and speed targets'",
    "cpu_reference_gflops_per_s": [13.0, 18.0],
    "cpu_reference_examples": [
        {"gflop_per_image": 0.15, "images_per_s": 84},
        {"gflop_per_image": 0.36, "images_per_s": 51},
    ],
    "cpu_reference_peak_rss_gb": [2.2, 3.6],
    "cpu_target_gflops_per_s": [26.0, 36.0],  # at least twice 13-18
    "cpu_target_peak_rss_gb": 1.0,
    "cuda_target_images_per_s": 15_000,  # H100, batch 128
    "cuda_target_syncs_per_step": 0,
}

DEFAULT_VARIANTS = {
    "cpu": "fp32,contiguous,dataloader",
    "cuda": "fp32,tf32,bf16,channels_last,tf32+channels_last,bf16+channels_last,dataloader",
}


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/engine.py",
        description="Benchmark the ENAS engine's search (shared-model training, controller, "
        "FLOPs, memory) on the CPU or CUDA. Writes JSON and prints a summary.",
    )
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed shared-training steps per variant (default: 20 cpu, 200 cuda)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps first (default: 3 cpu, 30 cuda)")
    p.add_argument("--variants", default=None,
                   help="comma-separated; each one or more of fp32|tf32|bf16, "
                   "channels_last|contiguous (neither: the engine's default layout for the "
                   "device), dataloader, joined by '+' (default cpu: "
                   f"{DEFAULT_VARIANTS['cpu']}; cuda: {DEFAULT_VARIANTS['cuda']})")
    p.add_argument("--quick", action="store_true",
                   help="a few steps of everything (the smoke test); figures are not meaningful")
    p.add_argument("--out", default=None,
                   help="JSON path (default: bench/results/engine-<device>.json)")
    p.add_argument("--dataset", default="fashion-mnist", choices=("fashion-mnist", "digits"),
                   help="fashion-mnist (the stated configuration) or the bundled digits")
    p.add_argument("--data-dir", default=None,
                   help="folder with the Fashion-MNIST IDX files (default: ../shared/data/"
                   "fashion-mnist, then /usr/share/datasets/fashion-mnist, then a torchvision "
                   "download into data/)")
    p.add_argument("--ctrl-steps", type=int, default=None,
                   help="timed train_controller steps per variant (default: 2 cpu, 10 cuda)")
    p.add_argument("--eval-batches", type=int, default=None,
                   help="validation batches timed with Searcher.evaluate (default: 4 cpu, all "
                   "cuda)")
    p.add_argument("--flop-archs", type=int, default=20,
                   help="timed architectures whose FLOPs are counted (evenly spaced; all when "
                   "there are fewer; default: 20)")
    p.add_argument("--profile-steps", type=int, default=None,
                   help="steps under torch.profiler (default: 2; 1 with --quick; 0 turns off)")
    p.add_argument("--full-epoch", action="store_true",
                   help="also run one real Searcher.run_epoch and time it (minutes on a CPU)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: leave torch's default)")
    p.add_argument("--seed", type=int, default=0, help="Searcher seed (default: 0)")
    size = p.add_argument_group("model size (defaults: the stated configuration; any other "
                                "value leaves the targets unjudged)")
    size.add_argument("--layers", type=int, default=STATED["layers"],
                      help=f"normal cells, 3 stages (default: {STATED['layers']})")
    size.add_argument("--channels", type=int, default=STATED["channels"],
                      help=f"default: {STATED['channels']}")
    size.add_argument("--nodes", type=int, default=STATED["nodes"],
                      help=f"nodes per cell (default: {STATED['nodes']})")
    size.add_argument("--batch-size", type=int, default=STATED["batch_size"],
                      help=f"training and validation batch (default: {STATED['batch_size']})")
    size.add_argument("--num-aggregate", type=int, default=STATED["num_aggregate"],
                      help="architectures per controller update "
                      f"(default: {STATED['num_aggregate']})")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)

    cuda = torch.cuda.is_available()
    args.device = args.device or ("cuda" if cuda else "cpu")
    kind = torch.device(args.device).type
    if kind not in ("cpu", "cuda"):
        p.error(f"--device must be cpu or cuda, got {args.device!r}")
    if kind == "cuda" and not cuda:
        p.error("--device cuda asked for, but torch sees no CUDA device")
    on_gpu = kind == "cuda"
    if args.quick:
        defaults = {"steps": 2, "warmup": 1, "ctrl_steps": 1, "eval_batches": 1,
                    "profile_steps": 1}
    else:
        defaults = {"steps": 200 if on_gpu else 20, "warmup": 30 if on_gpu else 3,
                    "ctrl_steps": 10 if on_gpu else 2, "eval_batches": 0 if on_gpu else 4,
                    "profile_steps": 2}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.steps < 1 or args.warmup < 0 or args.ctrl_steps < 1 or args.flop_archs < 1:
        p.error("--steps, --ctrl-steps and --flop-archs must be >= 1, --warmup >= 0")
    args.variants = args.variants or DEFAULT_VARIANTS[kind]
    return args


@dataclass(frozen=True)
class Variant:
    name: str
    precision: str = "fp32"
    channels_last: bool | None = None  # None: the engine's default layout for the device
    dataloader: bool = False

    def runtime(self, device: str) -> Runtime:
        return Runtime(device=device, precision=self.precision,  # type: ignore[arg-type]
                       channels_last=self.channels_last)


def uses_channels_last(runtime: Runtime) -> bool:
    """The layout the engine picks for `runtime` (`Runtime.use_channels_last`)."""
    resolved = getattr(runtime, "use_channels_last", None)
    return bool(runtime.channels_last) if resolved is None else bool(resolved)


def parse_variants(text: str, device_type: str) -> tuple[list[Variant], list[str]]:
    """Variants to run, and notes on the ones skipped (e.g. tf32 on a CPU)."""
    variants: list[Variant] = []
    skipped: list[str] = []
    for name in (v.strip() for v in text.split(",")):
        if not name:
            continue
        precision, channels_last, dataloader = "fp32", None, False
        for token in name.split("+"):
            if token in ("fp32", "tf32", "bf16"):
                precision = token
            elif token in ("channels_last", "cl"):
                channels_last = True
            elif token in ("contiguous", "nchw"):
                channels_last = False
            elif token == "dataloader":
                dataloader = True
            else:
                raise SystemExit(f"unknown variant part {token!r} in {name!r}; use fp32, tf32, "
                                 "bf16, channels_last, contiguous, dataloader joined by '+'")
        if precision == "tf32" and device_type != "cuda":
            skipped.append(f"{name}: TF32 exists on CUDA only")
            continue
        variants.append(Variant(name, precision, channels_last, dataloader))
    if not variants:
        raise SystemExit("no variant left to run")
    return variants, skipped


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def load_data(dataset: str, data_dir: str | None, seed: int) -> tuple[Splits, dict[str, Any]]:
    """The splits to benchmark on and a description; Fashion-MNIST when it can be found."""
    problems: list[str] = []
    if dataset == "fashion-mnist":
        if data_dir is not None:
            tries = [(Path(data_dir), False)]
        else:
            tries = [(d, False) for d in (ROOT.parent / "shared" / "data" / "fashion-mnist",
                                          Path("/usr/share/datasets/fashion-mnist")) if d.is_dir()]
            tries.append((ROOT / "data", True))  # torchvision download (gitignored folder)
        for folder, download in tries:
            try:
                train, test = load_builtin("fashion-mnist", folder, download=download)
            except DatasetError as exc:
                problems.append(str(exc).splitlines()[0][:300])
                continue
            assert test is not None
            splits = make_splits(train, test, seed=seed, val_size=FASHION_VAL)
            return splits, _describe(splits, "fashion-mnist", str(folder),
                                     "Fashion-MNIST train 60,000 -> 55,000 train / 5,000 val "
                                     "(stratified, seed study's split); the 10,000 test images "
                                     "are not used")
        warnings.warn("Fashion-MNIST not found; benchmarking on the bundled 5,000 digits "
                      "instead (smaller epochs, same image size): " + "; ".join(problems),
                      stacklevel=2)
    splits = make_splits(load_digits(), seed=seed)
    return splits, _describe(splits, "digits", "enas_core/datasets/mnist-5k.npz",
                             "bundled 5,000 MNIST digits -> 90%/10% of 90% train/val, 10% test",
                             problems)


def _describe(splits: Splits, name: str, source: str, split: str,
              problems: list[str] | None = None) -> dict[str, Any]:
    info = {"name": name, "source": source, "split": split,
            "train": splits.train.num_samples, "val": splits.val.num_samples,
            "test": splits.test.num_samples, "image_shape": list(splits.train.image_shape),
            "classes": splits.train.num_classes, "augmentation": "none"}
    if problems:
        info["fashion_mnist_problems"] = problems
    return info


class HostLoader:
    """The usual input pipeline, for comparison with `DeviceLoader`: a torch `DataLoader` over a
    `TensorDataset` of the same normalised images on the host (NCHW float32), collated sample
    by sample and copied to the device each batch (pinned, non-blocking on CUDA).

    Same batches as `DeviceLoader`: the same normalisation arithmetic (bit-identical values),
    batch size, drop_last and a fresh permutation per epoch; with the same CPU generator seed
    both draw the same permutation (`RandomSampler` and `DeviceLoader` both call `randperm`).
    """

    def __init__(self, data: ImageDataset, *, batch_size: int, device: torch.device,
                 mean: Sequence[float], std: Sequence[float], seed: int,
                 channels_last: bool = False) -> None:
        c = data.channels
        x = torch.from_numpy(np.ascontiguousarray(data.x)).permute(0, 3, 1, 2).contiguous()
        unit = 1.0 / 255.0 if data.x.dtype == np.uint8 else 1.0
        mean_t = torch.as_tensor(mean, dtype=torch.float64).expand(c)
        std_t = torch.as_tensor(std, dtype=torch.float64).expand(c)
        scale = (unit / std_t).float().view(1, c, 1, 1)
        shift = (-mean_t / std_t).float().view(1, c, 1, 1)
        x = torch.addcmul(shift, x.float(), scale)
        self.device = device
        self.channels_last = channels_last
        dataset = TensorDataset(x, torch.from_numpy(data.y))
        # The sampler gets the generator, not the DataLoader: a DataLoader draws a base seed
        # from its own generator first, which would shift the permutation.
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                                 num_workers=0, pin_memory=device.type == "cuda")

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True)


def same_first_batch(splits: Splits, batch_size: int, device: torch.device, seed: int) -> bool:
    """Check that HostLoader and DeviceLoader give the same first batch from the same seed."""
    dev = DeviceLoader(splits.train, batch_size=batch_size, device=device, mean=splits.mean,
                       std=splits.std, generator=torch.Generator().manual_seed(seed))
    host = HostLoader(splits.train, batch_size=batch_size, device=device, mean=splits.mean,
                      std=splits.std, seed=seed)
    (xd, yd), (xh, yh) = next(iter(dev)), next(iter(host))
    return bool(torch.equal(xd.cpu(), xh.cpu()) and torch.equal(yd.cpu(), yh.cpu()))


# --------------------------------------------------------------------------------------------
# FLOPs
# --------------------------------------------------------------------------------------------


def _conv_kind(w_shape: Sequence[int], groups: int) -> str:
    if groups > 1:
        return "depthwise" if w_shape[1] == 1 else "grouped"
    return "pointwise" if all(k == 1 for k in w_shape[2:]) else "dense"


def _t(shape: Sequence[int]) -> list[int]:
    return [shape[1], shape[0], *shape[2:]]


class ConvTally:
    """`FlopCounterMode` formulas for convolutions that (a) correct the backward count of
    grouped convolutions and (b) tally FLOPs by conv kind and pass.

    torch's `conv_backward_flop` counts the weight gradient as a convolution of the input (as
    C_in "images") with grad_out (as C_out filters of N channels): 2*N*C_out*C_in*Ho*Wo*k^2
    multiply-adds, ignoring `groups`. Each output channel of a grouped convolution only sees
    C_in/groups inputs, so the true count is that divided by `groups` (for a depthwise conv,
    groups = C and the raw count is C times too large). Its forward and input-gradient counts
    use the weight's shape (C_out, C_in/groups, k, k) and are right.
    """

    def __init__(self) -> None:
        self.flops: dict[tuple[str, str], int] = defaultdict(int)  # (kind, pass) -> corrected
        self.excess = 0  # raw minus corrected (grouped weight gradients)

    def mapping(self) -> dict[Any, Callable[..., int]]:
        return {aten.convolution: self.forward, aten.convolution_backward: self.backward}

    def forward(self, x_shape: Sequence[int], w_shape: Sequence[int], _bias: Any, _stride: Any,
                _padding: Any, _dilation: Any, transposed: bool, _output_padding: Any,
                groups: int, out_shape: Sequence[int] | None = None, **_: Any) -> int:
        flops = conv_flop_count(list(x_shape), list(w_shape), list(out_shape or ()), transposed)
        self.flops[(_conv_kind(w_shape, groups), "forward")] += flops
        return flops

    def backward(self, grad_out_shape: Sequence[int], x_shape: Sequence[int],
                 w_shape: Sequence[int], _bias: Any, _stride: Any, _padding: Any,
                 _dilation: Any, transposed: bool, _output_padding: Any, groups: int,
                 output_mask: Sequence[bool], out_shape: Sequence[Any] | None = None,
                 **_: Any) -> int:
        kind = _conv_kind(w_shape, groups)
        assert out_shape is not None
        total = 0
        if output_mask[0]:
            flops = conv_flop_count(list(grad_out_shape), list(w_shape), list(out_shape[0]),
                                    not transposed)
            self.flops[(kind, "backward_input")] += flops
            total += flops
        if output_mask[1]:
            if transposed:
                raw = conv_flop_count(_t(grad_out_shape), _t(x_shape), _t(out_shape[1]), False)
            else:
                raw = conv_flop_count(_t(x_shape), _t(grad_out_shape), _t(out_shape[1]), False)
            flops = raw // groups
            self.excess += raw - flops
            self.flops[(kind, "backward_weight")] += flops
            total += flops
        return total


class FlopCounter:
    """FLOPs per image of one training step (forward + backward) of sampled children, counted
    on a copy of the search model on the meta device: shapes only, no arithmetic, so counting
    costs milliseconds and does not depend on the variant (precision and memory format leave
    the count unchanged). Only convolutions and matmuls count, as in `FlopCounterMode`."""

    def __init__(self, config: ModelConfig, image_shape: Sequence[int], classes: int,
                 batch_size: int) -> None:
        h, w, c = image_shape
        with torch.device("meta"):
            self.model = build_search_model(config, c, classes)
        self.x = torch.empty(batch_size, c, h, w, device="meta")
        self.y = torch.zeros(batch_size, dtype=torch.long, device="meta")
        self.batch = batch_size
        self.params = {p.untyped_storage()._cdata for p in self.model.parameters()}
        self.cache: dict[MicroArchitecture, dict[str, Any]] = {}

    def count(self, arch: MicroArchitecture) -> dict[str, Any]:
        """Per image: corrected and raw totals, forward only, and the corrected split by kind."""
        if arch in self.cache:
            return self.cache[arch]
        tally = ConvTally()
        saved: dict[int, int] = {}  # storage -> bytes, of what autograd keeps for backward

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            if storage._cdata not in self.params:
                saved[storage._cdata] = storage.nbytes()
            return t

        with FlopCounterMode(display=False, custom_mapping=tally.mapping()) as counter:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = F.cross_entropy(self.model(self.x, arch), self.y)
            loss.backward()
        self.model.zero_grad(set_to_none=True)
        by_op = counter.get_flop_counts()["Global"]
        total = counter.get_total_flops()
        b = self.batch
        forward = by_op.get(aten.convolution, 0) + by_op.get(aten.addmm, 0)
        conv = sum(tally.flops.values())
        kinds: dict[str, dict[str, float]] = defaultdict(dict)
        for (kind, phase), flops in sorted(tally.flops.items()):
            kinds[kind][phase] = flops / b
        kinds["linear"] = {"all": (total - conv) / b}
        result = {"corrected": total / b, "raw": (total + tally.excess) / b,
                  "forward": forward / b, "excess": tally.excess / b, "by_kind": dict(kinds),
                  "saved_mb": sum(saved.values()) / 2**20}
        self.cache[arch] = result
        return result

    def raw_with_torch(self, arch: MicroArchitecture) -> float:
        """The uncorrected per-image count, from torch's own formulas (a cross-check)."""
        with FlopCounterMode(display=False) as counter:
            F.cross_entropy(self.model(self.x, arch), self.y).backward()
        self.model.zero_grad(set_to_none=True)
        return counter.get_total_flops() / self.batch


def summarise_flops(counter: FlopCounter, archs: Sequence[MicroArchitecture]) -> dict[str, Any]:
    counts = [counter.count(a) for a in archs]
    g = 1e9

    def stats(key: str, scale: float = 1 / g) -> dict[str, float]:
        values = [c[key] * scale for c in counts]
        return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}

    kinds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for c in counts:
        for kind, phases in c["by_kind"].items():
            for phase, flops in phases.items():
                kinds[kind][phase] += flops / g / len(counts)
    first = archs[0]
    raw_torch = counter.raw_with_torch(first)
    return {
        "archs_counted": len(counts),
        "unit": "GFLOP per image (1 multiply-add = 2 FLOPs; convolutions and matmuls only)",
        "fwd_bwd_corrected": stats("corrected"),
        "fwd_bwd_raw": stats("raw"),
        "depthwise_excess": stats("excess"),
        "forward": stats("forward"),
        "by_kind_corrected": {k: dict(v) for k, v in sorted(kinds.items())},
        "saved_for_backward_mb": stats("saved_mb", 1.0) | {
            "batch_size": counter.batch, "dtype": "float32 (int64 for max-pool indices)",
            "what": "activations autograd keeps from forward to backward in one step"},
        "raw_cross_check": {"arch": str(first), "torch_default": raw_torch / g,
                            "ours_raw": counter.count(first)["raw"] / g,
                            "equal": math.isclose(raw_torch, counter.count(first)["raw"])},
    }


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rss_mb() -> dict[str, float]:
    """Current and peak resident set size of this process (from /proc and getrusage)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    current = float("nan")
    try:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        pass
    return {"rss_mb": current, "peak_rss_mb": peak}


def stats_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1e3 for s in seconds]
    return {"mean": statistics.fmean(ms), "median": statistics.median(ms), "min": min(ms),
            "max": max(ms)}


@dataclass
class SharedRun:
    archs: list[MicroArchitecture]
    step_s: list[float]  # per step (host-side on CUDA)
    cpu_s: list[float]  # process CPU time per step, all threads (robust to a busy machine)
    steps_s: float  # first step start -> end of train_shared (includes its final sync)
    phase_s: float  # the whole train_shared call, including sampling the architectures
    loss: float
    acc: float


def run_shared(searcher: Searcher, steps: int, lr: float) -> SharedRun:
    """`steps` steps of `Searcher.train_shared`, the search's own loop, timed per step.

    The step timestamps come from the `should_stop` callback the loop calls once per step; the
    architectures trained are recorded by a forward pre-hook on the model."""
    searcher.config = replace(searcher.config, steps_per_epoch=steps)
    archs: list[MicroArchitecture] = []
    stamps: list[float] = []
    cpu: list[float] = []

    def mark() -> bool:
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
        return False

    hook = searcher.model.register_forward_pre_hook(lambda _m, args: archs.append(args[1]))
    try:
        sync(searcher.device)
        t0 = time.perf_counter()
        loss, acc = searcher.train_shared(lr, mark)  # ends with float(): a device sync
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        hook.remove()
    ends, cpu_ends = [*stamps[1:], t1], [*cpu[1:], c1]
    return SharedRun(archs, [b - a for a, b in zip(stamps, ends, strict=True)],
                     [b - a for a, b in zip(cpu, cpu_ends, strict=True)], t1 - stamps[0],
                     t1 - t0, loss, acc)


def time_controller_phase(searcher: Searcher, steps: int) -> dict[str, Any]:
    """`Searcher.train_controller`: per step num_aggregate reward evaluations (forward passes on
    validation batches) and one REINFORCE update. One untimed step first."""
    cfg = searcher.config
    for n in (1, steps):
        searcher.config = replace(cfg, controller=replace(cfg.controller, train_steps=n))
        sync(searcher.device)
        t0 = time.perf_counter()
        searcher.train_controller(never)  # ends with .cpu() of the rewards: a sync
        seconds = time.perf_counter() - t0
    searcher.config = cfg
    return {"steps": steps, "step_s": seconds / steps,
            "reward_evals_per_step": cfg.controller.num_aggregate,
            "eval_batch_size": cfg.eval_batch_size}


def time_evaluate(searcher: Searcher, batches: int) -> dict[str, Any]:
    """`Searcher.evaluate` (the end-of-epoch check of the best sampled architecture), timed on
    `batches` validation batches (0: all) and extrapolated to the whole split."""
    full = len(searcher.eval_loader)
    n = full if batches <= 0 else min(batches, full)
    arch = searcher.controller.sample(1, torch.Generator().manual_seed(1))[0]
    cfg = searcher.config
    searcher.config = replace(cfg, eval_batches=1)
    searcher.evaluate(arch)  # warm-up
    searcher.config = replace(cfg, eval_batches=n)
    sync(searcher.device)
    t0 = time.perf_counter()
    searcher.evaluate(arch)
    seconds = time.perf_counter() - t0
    searcher.config = cfg
    return {"batches_timed": n, "batches_per_epoch": full, "batch_ms": seconds / n * 1e3,
            "epoch_s": seconds / n * full}


def time_controller(searcher: Searcher, steps_per_epoch: int, repeats: int) -> dict[str, Any]:
    """The controller on its own (it always runs on the CPU): sampling one architecture, the
    batched sample of an epoch's architectures (as `train_shared` does), the differentiable
    batch of `num_aggregate` (as `train_controller` does) and one `Reinforce.step`."""
    ctrl, reinforce = searcher.controller, searcher.reinforce
    n_agg = searcher.config.controller.num_aggregate
    gen = torch.Generator().manual_seed(123)

    def best_of(fn: Callable[[], Any], times: int) -> float:
        fn()
        out = []
        for _ in range(times):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    single = best_of(lambda: ctrl.sample(1, gen), repeats)
    batched = best_of(lambda: ctrl.sample(steps_per_epoch, gen), max(1, repeats // 5))
    forward = best_of(lambda: ctrl(n_agg, gen), repeats)
    updates = []
    for _ in range(repeats + 1):
        samples = ctrl(n_agg, gen)
        acc = torch.rand(n_agg, generator=gen)
        t0 = time.perf_counter()
        reinforce.step(samples, acc)
        updates.append(time.perf_counter() - t0)
    update = statistics.median(updates[1:])
    return {
        "sample_single_ms_per_arch": single * 1e3,
        "sample_batched": {"n": steps_per_epoch, "ms_total": batched * 1e3,
                           "ms_per_arch": batched / steps_per_epoch * 1e3},
        "forward_with_grad": {"n": n_agg, "ms_total": forward * 1e3,
                              "ms_per_arch": forward / n_agg * 1e3},
        "update": {"n": n_agg, "ms_total": update * 1e3, "ms_per_arch": update / n_agg * 1e3,
                   "what": "Reinforce.step: baseline, loss, backward through the LSTM, Adam"},
        "repeats": repeats,
    }


def time_pipeline(loader: Any, batches: int, device: torch.device) -> dict[str, Any]:
    """The input pipeline alone: `batches` batches, each ready on the device."""
    it = cycle(loader)
    next(it)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(batches):
        x, _y = next(it)
    sync(device)
    seconds = time.perf_counter() - t0
    return {"batches": batches, "batch_ms": seconds / batches * 1e3,
            "images_per_s": batches * x.shape[0] / seconds}


# --------------------------------------------------------------------------------------------
# Profiling
# --------------------------------------------------------------------------------------------


def _op_kind(name: str, shapes: Sequence[Any]) -> str:
    n = name.lower()
    if "conv" in n:
        weights = [s for s in shapes if isinstance(s, list | tuple) and len(s) == 4]
        if weights:
            w = min(weights, key=math.prod)  # the weight is the smallest 4-d input
            kind = ("depthwise" if w[1] == 1 and w[0] > 1
                    else "pointwise" if w[2] == w[3] == 1 else "dense")
        else:
            kind = "other"
        return f"conv {kind} {'backward' if 'backward' in n else 'forward'}"
    if "batch_norm" in n:
        return f"batch norm {'backward' if 'backward' in n else 'forward'}"
    if "relu" in n or "threshold" in n or "clamp_min" in n:
        return "relu (forward and backward)"
    if "pool" in n:
        return "pooling (forward and backward)"
    if "foreach" in n or "optimizer" in n or "sgd" in n or "norm" in n:
        return "optimizer and grad clipping"
    if "softmax" in n or "nll" in n or "mm" in n or "linear" in n:
        return "classifier and loss"
    if any(k in n for k in ("cat", "add", "copy", "fill", "zero", "pad", "clone", "empty",
                            "slice", "stack", "contiguous", "sum", "mul")):
        return "add / cat / copy / fill (memory-bound)"
    if "backward" in n or "autograd" in n:
        return "autograd bookkeeping"
    return "other"


def profile_cpu(searcher: Searcher, steps: int, lr: float) -> dict[str, Any]:
    """Self CPU time of one training step by op kind (leaf self times add up to the total)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        run = run_shared(searcher, steps, lr)
    kinds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for evt in prof.key_averages(group_by_input_shape=True):
        kind = _op_kind(evt.key, evt.input_shapes or [])
        kinds[kind] += evt.self_cpu_time_total
        calls[kind] += evt.count
    total = sum(kinds.values())
    breakdown = [
        {"kind": k, "ms_per_step": us / 1e3 / steps, "share": us / total if total else 0.0,
         "calls_per_step": calls[k] / steps}
        for k, us in sorted(kinds.items(), key=lambda kv: -kv[1])
    ]
    return {"steps": steps, "profiled_ms_per_step": total / 1e3 / steps,
            "wall_ms_per_step": stats_ms(run.step_s)["median"],
            "archs": [str(a) for a in run.archs], "by_kind": breakdown,
            "note": "self CPU time per op under torch.profiler (which adds overhead per op); "
            "the steps include train_shared's batched sampling of their architectures"}


def profile_cuda(searcher: Searcher, steps: int, lr: float) -> dict[str, Any]:
    """CUDA kernels and launches per training step, and the kernels taking the most time."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        run_shared(searcher, steps, lr)
    kernels = memops = launches = 0
    device_us: dict[str, float] = defaultdict(float)
    for evt in prof.events():
        if evt.device_type == DeviceType.CUDA:
            if evt.name.startswith(("Memcpy", "Memset")):
                memops += 1
            else:
                kernels += 1
                device_us[evt.name] += evt.time_range.elapsed_us()  # the kernel's own span
        elif evt.name in ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel",
                          "cuLaunchKernelEx"):
            launches += 1
    top = sorted(device_us.items(), key=lambda kv: -kv[1])[:10]
    return {"steps": steps, "kernels_per_step": kernels / steps,
            "memcpy_memset_per_step": memops / steps, "launch_calls_per_step": launches / steps,
            "kernel_ms_per_step": sum(device_us.values()) / 1e3 / steps,
            "top_kernels": [{"name": n[:100], "ms_per_step": us / 1e3 / steps} for n, us in top],
            "note": "counted over whole train_shared calls: includes the per-call final sync"}


def count_syncs(searcher: Searcher, steps: int, lr: float) -> dict[str, Any]:
    """Host-device synchronisations inside a training step, with the sync debug mode: the
    per-call ones (train_shared's final float()/int()) cancel between k and 2k steps."""
    found: list[int] = []
    messages: set[str] = set()
    for n in (steps, 2 * steps):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                run_shared(searcher, n, lr)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        hits = [w for w in caught if "synchroniz" in str(w.message).lower()]
        found.append(len(hits))
        messages.update(f"{Path(w.filename).name}:{w.lineno}: {w.message}"[:200] for w in hits)
    per_step = (found[1] - found[0]) / steps
    return {"syncs_per_call": {str(steps): found[0], str(2 * steps): found[1]},
            "syncs_per_step": per_step, "messages": sorted(messages)[:10]}


# --------------------------------------------------------------------------------------------
# One variant
# --------------------------------------------------------------------------------------------


def bench_variant(variant: Variant, args: argparse.Namespace, config: SearchConfig,
                  splits: Splits, flops: FlopCounter,
                  log: Callable[[str], None]) -> tuple[dict[str, Any], Searcher]:
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    runtime = variant.runtime(args.device)
    channels_last = uses_channels_last(runtime)
    searcher = Searcher(config, splits, runtime=runtime, seed=args.seed)
    steps_per_epoch = len(searcher.train_loader)  # as run_epoch: one pass over the train split
    if variant.dataloader:
        searcher.train_loader = HostLoader(
            splits.train, batch_size=config.batch_size, device=device, mean=splits.mean,
            std=splits.std, seed=args.seed + 1, channels_last=channels_last)
    lr = config.lr_max
    log(f"[{variant.name}] warm-up {args.warmup} steps")
    if args.warmup:
        run_shared(searcher, args.warmup, lr)
    log(f"[{variant.name}] timing {args.steps} steps")
    run = run_shared(searcher, args.steps, lr)
    b = config.batch_size
    images_per_s = b * args.steps / run.steps_s

    # FLOPs of the timed architectures (evenly spaced when there are many).
    pick = np.unique(np.linspace(0, len(run.archs) - 1, min(args.flop_archs, len(run.archs)))
                     .round().astype(int))
    counted = [run.archs[i] for i in pick]
    flop_mean = statistics.fmean(flops.count(a)["corrected"] for a in counted)
    result: dict[str, Any] = {
        "variant": variant.name, "precision": variant.precision,
        "layout": "channels_last" if channels_last else "contiguous",
        "layout_from": "engine default" if variant.channels_last is None else "variant",
        "input": "DataLoader(TensorDataset) on the host" if variant.dataloader
        else "DeviceLoader (dataset on the device)",
        "steps": args.steps, "warmup": args.warmup, "batch_size": b,
        "images_per_s": images_per_s,
        "step_ms": stats_ms(run.step_s) | ({"note": "host-side (enqueue) time"} if on_gpu else {}),
        "step_cpu_ms": stats_ms(run.cpu_s),
        "cpu_per_wall": sum(run.cpu_s) / sum(run.step_s),
        "train_shared_call_s": run.phase_s,
        "gflop_per_image_of_timed_archs": flop_mean / 1e9,
        "gflops_per_s": flop_mean * images_per_s / 1e9,
        "loss": run.loss, "acc": run.acc, "loss_finite": math.isfinite(run.loss),
    }
    result["step_ms_each"] = [round(t * 1e3, 2) for t in run.step_s]
    if len(counted) == len(run.archs):
        result["gflop_per_image_each"] = [round(flops.count(a)["corrected"] / 1e9, 5)
                                          for a in run.archs]
        if not on_gpu:
            per_step = [flops.count(a)["corrected"] * b / t / 1e9
                        for a, t in zip(run.archs, run.step_s, strict=True)]
            result["gflops_per_s_median_step"] = statistics.median(per_step)

    if not variant.dataloader:  # the controller phase does not use the train loader
        log(f"[{variant.name}] controller phase, {args.ctrl_steps} steps")
        ctrl = time_controller_phase(searcher, args.ctrl_steps)
        log(f"[{variant.name}] evaluate")
        ev = time_evaluate(searcher, args.eval_batches)
        ctrl_steps = config.controller.train_steps
        sample_s = _time_batched_sample(searcher, steps_per_epoch)
        step_s = run.steps_s / args.steps
        result["controller_phase"] = ctrl
        result["evaluate"] = ev
        result["epoch"] = {
            "seconds": steps_per_epoch * step_s + sample_s + ctrl_steps * ctrl["step_s"]
            + ev["epoch_s"],
            "shared_s": steps_per_epoch * step_s, "sample_archs_s": sample_s,
            "controller_s": ctrl_steps * ctrl["step_s"], "evaluate_s": ev["epoch_s"],
            "shared_steps": steps_per_epoch, "controller_steps": ctrl_steps,
            "how": "shared steps x measured step time + one batched sample of the epoch's "
            "architectures + controller steps x measured controller step (pricing of the "
            "samples included) + evaluate() of the epoch's best sample on the whole "
            "validation split (extrapolated per batch); not included: pricing that one "
            "candidate (under a millisecond once its latency table is cached)",
        }
    if on_gpu:
        result["memory"] = {
            "max_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "max_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,
        } | rss_mb()
        log(f"[{variant.name}] CUDA kernels and syncs")
        result["cuda"] = _guarded(lambda: profile_cuda(searcher, 5, lr))
        result["cuda"]["sync_check"] = _guarded(lambda: count_syncs(searcher, 5, lr))
    else:
        result["memory"] = rss_mb() | {"note": "process-wide high-water mark so far"}
        if args.profile_steps > 0 and not variant.dataloader:
            log(f"[{variant.name}] profiling {args.profile_steps} steps")
            result["profile"] = _guarded(lambda: profile_cpu(searcher, args.profile_steps, lr))
    return result, searcher


def _time_batched_sample(searcher: Searcher, n: int) -> float:
    t0 = time.perf_counter()
    searcher.controller.sample(n, torch.Generator().manual_seed(7))
    return time.perf_counter() - t0


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Diagnostics that must not sink the whole benchmark (profiler quirks on some setups)."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - recorded in the result instead
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------


def environment(device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__,
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_model": _cpu_model(), "git": _git(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["cuda"] = {"device": props.name, "capability": f"{props.major}.{props.minor}",
                       "memory_gb": props.total_memory / 2**30,
                       "cuda_version": torch.version.cuda,
                       "cudnn": torch.backends.cudnn.version()}
    return env


def _cpu_model() -> dict[str, Any]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("model name")), platform.processor())
    flags_line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    flags = set(flags_line.split(":", 1)[-1].split())
    return {"name": name, "flags": sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16",
                                                  "avx512_vnni", "amx_bf16", "amx_tile"})}


def _git() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()

    try:
        return {"commit": run("rev-parse", "HEAD"),
                "enas_core_modified": bool(run("status", "--porcelain", "enas_core"))}
    except (OSError, subprocess.SubprocessError):
        return {}


def judge_targets(result: dict[str, Any], stated: bool) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met."""
    variants = result["variants"]
    device = result["device"]
    targets: list[dict[str, Any]] = []
    default = variants.get("fp32")
    best_name = max(variants, key=lambda k: variants[k]["images_per_s"])
    best = variants[best_name]
    note = None if stated else "not the stated configuration: targets not judged"

    def judged(ok: bool) -> bool | None:
        return ok if stated else None

    if device == "cpu":
        lo, hi = REFERENCE["cpu_target_gflops_per_s"]
        best_g = max(variants, key=lambda k: variants[k]["gflops_per_s"])
        value = variants[best_g]["gflops_per_s"]
        targets.append({
            "name": "cpu_gflops_per_s", "target": f">= {lo:g}-{hi:g} (2x the references' "
            f"{REFERENCE['cpu_reference_gflops_per_s'][0]:g}-"
            f"{REFERENCE['cpu_reference_gflops_per_s'][1]:g})",
            "value": value, "variant": best_g,
            "value_fp32_default": default["gflops_per_s"] if default else None,
            "met": judged(value >= hi), "met_low_end": judged(value >= lo), "note": note})
        peak_gb = result["memory"]["peak_rss_mb_search"] / 1024
        limit = REFERENCE["cpu_target_peak_rss_gb"]
        targets.append({
            "name": "cpu_peak_rss_gb", "target": f"< {limit:g} (references: 2.2-3.6)",
            "value": peak_gb, "met": judged(peak_gb < limit), "note": note})
    else:
        goal = REFERENCE["cuda_target_images_per_s"]
        targets.append({
            "name": "cuda_images_per_s", "target": f">= {goal} at batch 128 (set for an H100)",
            "value": best["images_per_s"], "variant": best_name,
            "value_fp32_default": default["images_per_s"] if default else None,
            "met": judged(best["images_per_s"] >= goal), "note": note})
        syncs = [v.get("cuda", {}).get("sync_check", {}).get("syncs_per_step")
                 for v in variants.values()]
        syncs = [s for s in syncs if s is not None]
        targets.append({
            "name": "cuda_syncs_per_step", "target": "0 host-device syncs inside a step",
            "value": max(syncs) if syncs else None,
            "met": (max(syncs) == 0) if syncs else None})
    return targets


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark with command-line `argv`; returns the result (also written as JSON)."""
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)  # callers (the smoke test's process) keep theirs


def _run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    load_start = os.getloadavg()
    rss_start = rss_mb()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        splits, data_info = load_data(args.dataset, args.data_dir, args.seed)
    bench_warnings = [str(w.message) for w in caught]
    for w in bench_warnings:
        log(f"WARNING: {w}")
    variants, skipped = parse_variants(args.variants, device.type)
    config = SearchConfig(
        model=ModelConfig(layers=args.layers, channels=args.channels, nodes=args.nodes),
        controller=ControllerConfig(num_aggregate=args.num_aggregate),
        batch_size=args.batch_size, eval_batch_size=args.batch_size, augment=AugmentConfig(),
    )
    stated = (all(getattr(args, k) == v for k, v in STATED.items())
              and data_info["name"] == "fashion-mnist")
    flops = FlopCounter(config.model, splits.train.image_shape, splits.train.num_classes,
                        config.batch_size)

    result: dict[str, Any] = {
        "schema": SCHEMA, "benchmark": "enas_core engine (issue 2)",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device.type, "quick": args.quick, "stated_config": stated,
        "config": {"layers": args.layers, "cells_per_stage": args.layers // 3,
                   "channels": args.channels, "nodes": args.nodes,
                   "batch_size": args.batch_size, "eval_batch_size": args.batch_size,
                   "controller_num_aggregate": args.num_aggregate,
                   "controller_train_steps": config.controller.train_steps,
                   "augmentation": "none", "optimizer": "SGD nesterov, grad clip 5",
                   "seed": args.seed},
        "data": data_info, "env": environment(device),
        "settings": {"steps": args.steps, "warmup": args.warmup,
                     "ctrl_steps": args.ctrl_steps, "eval_batches": args.eval_batches,
                     "flop_archs": args.flop_archs, "profile_steps": args.profile_steps,
                     "variants": [v.name for v in variants], "skipped_variants": skipped},
        "variants": {}, "warnings": bench_warnings,
    }

    memory: dict[str, Any] = {"start": rss_start}
    first: Searcher | None = None
    for i, variant in enumerate(variants):
        res, searcher = bench_variant(variant, args, config, splits, flops, log)
        result["variants"][variant.name] = res
        if i == 0:
            memory["after_first_variant"] = rss_mb()
            first = searcher
        else:
            del searcher
            gc.collect()
    first_name = variants[0].name
    memory["peak_rss_mb_search"] = result["variants"][first_name]["memory"]["peak_rss_mb"]
    memory["note"] = ("peak_rss_mb_search: process peak after the first variant's shared "
                      "training, controller phase and evaluation, before its profiling (data "
                      "loading and import torch included); later figures are high-water marks "
                      "of the whole run, profiler included")
    assert first is not None

    log("FLOPs")
    # Every architecture counted for a variant (the variants train the same ones: same seed).
    result["flops"] = summarise_flops(flops, list(flops.cache))
    result["flops"]["note"] = (
        "FlopCounterMode on a meta-device copy of the search model. Its convolution backward "
        "formula ignores groups, so the weight gradient of a depthwise conv is counted C times; "
        "'corrected' divides that term by groups (see bench/README.md). 'forward' is one "
        "inference pass (a reward evaluation). 'saved_for_backward_mb' is what autograd "
        "keeps without recomputation, as on a GPU: on the CPU the search model recomputes its "
        "ops' inner activations in backward and keeps about a third of it "
        "(enas_core.layers.recomputing; bench/nni_memory.py measures the process).")

    log("controller")
    steps_per_epoch = len(first.train_loader)
    reps = 3 if args.quick else 20
    result["controller"] = time_controller(
        first, min(steps_per_epoch, 16) if args.quick else steps_per_epoch, reps)

    log("input pipelines")
    batches = 5 if args.quick else 50
    dev_loader = first.train_loader
    host_loader = HostLoader(splits.train, batch_size=args.batch_size, device=device,
                             mean=splits.mean, std=splits.std, seed=args.seed + 1)
    result["pipeline"] = {
        "device_loader": time_pipeline(dev_loader, batches, device),
        "dataloader": time_pipeline(host_loader, batches, device),
        "same_first_batch": same_first_batch(splits, args.batch_size, device, args.seed),
        "note": "batches ready on the device, no training; DataLoader: num_workers=0, "
        "TensorDataset of pre-normalised float32 NCHW host tensors, pinned on CUDA",
    }
    del host_loader

    if args.full_epoch:
        log("one full run_epoch")
        first.config = replace(first.config, steps_per_epoch=None)
        sync(device)
        t0 = time.perf_counter()
        first.run_epoch()
        result["full_epoch_s"] = time.perf_counter() - t0

    memory["end"] = rss_mb()
    result["memory"] = memory
    result["reference"] = REFERENCE
    result["targets"] = judge_targets(result, stated)
    result["load_average"] = {"start": list(load_start), "end": list(os.getloadavg())}
    result["wall_s"] = time.perf_counter() - start

    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"engine-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
    result["out"] = str(out)
    print(render(result))
    return result


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def render(r: dict[str, Any]) -> str:
    cfg, data, env = r["config"], r["data"], r["env"]
    out = [
        f"ENAS engine benchmark - {r['device']}"
        + (f" ({env['cuda']['device']})" if "cuda" in env else f" ({env['cpu_model'].get('name')})")
        + f", torch {env['torch']}, {env['torch_threads']} threads",
        f"config: {data['name']} {'x'.join(map(str, data['image_shape']))}, {cfg['layers']} "
        f"layers, {cfg['channels']} channels, {cfg['nodes']} nodes, batch {cfg['batch_size']}"
        f"{'' if r['stated_config'] else '  [NOT the stated configuration]'}"
        f"{'  [--quick]' if r['quick'] else ''}",
        f"data: {data['split']}",
        f"load average start/end: {r['load_average']['start'][0]:.2f} / "
        f"{r['load_average']['end'][0]:.2f} (on {env['cpu_count']} cpus)",
        "",
    ]
    rows = []
    for name, v in r["variants"].items():
        mem = v["memory"]
        rows.append([
            name, v["layout"], v["images_per_s"], v["step_ms"]["median"], v["gflops_per_s"],
            v.get("controller_phase", {}).get("step_s"), v.get("epoch", {}).get("seconds"),
            mem.get("max_allocated_mb", mem.get("peak_rss_mb")),
            v.get("cuda", {}).get("kernels_per_step"),
            v.get("cuda", {}).get("sync_check", {}).get("syncs_per_step"),
        ])
    mem_head = "peak MB (alloc)" if r["device"] == "cuda" else "peak RSS MB"
    out.append(_table(["variant", "layout", "img/s", "step ms (med)", "GFLOP/s", "ctrl step s",
                       "epoch s", mem_head, "kernels/step", "syncs/step"], rows))
    f = r["flops"]
    out += [
        "",
        f"FLOPs per image, fwd+bwd, over {f['archs_counted']} sampled archs (GFLOP): corrected "
        f"{f['fwd_bwd_corrected']['mean']:.4f} (min {f['fwd_bwd_corrected']['min']:.4f}, max "
        f"{f['fwd_bwd_corrected']['max']:.4f}); raw FlopCounterMode "
        f"{f['fwd_bwd_raw']['mean']:.4f}; depthwise excess removed "
        f"{f['depthwise_excess']['mean']:.4f}; forward only {f['forward']['mean']:.4f}",
        f"saved for backward per step without recomputation (as on a GPU; batch "
        f"{f['saved_for_backward_mb']['batch_size']}): "
        f"{f['saved_for_backward_mb']['mean']:.0f} MB (min {f['saved_for_backward_mb']['min']:.0f}"
        f", max {f['saved_for_backward_mb']['max']:.0f})",
    ]
    c = r["controller"]
    out.append(
        f"controller (CPU): sample {c['sample_single_ms_per_arch']:.2f} ms/arch single, "
        f"{c['sample_batched']['ms_per_arch']:.3f} ms/arch batched (n={c['sample_batched']['n']})"
        f"; forward with grad {c['forward_with_grad']['ms_per_arch']:.2f} ms/arch; update "
        f"{c['update']['ms_total']:.1f} ms ({c['update']['ms_per_arch']:.2f} ms/arch)")
    p = r["pipeline"]
    out.append(
        f"input pipeline: DeviceLoader {p['device_loader']['batch_ms']:.3f} ms/batch "
        f"({p['device_loader']['images_per_s']:,.0f} img/s); DataLoader "
        f"{p['dataloader']['batch_ms']:.3f} ms/batch ({p['dataloader']['images_per_s']:,.0f} "
        f"img/s); same first batch: {_fmt(p['same_first_batch'])}")
    first = next(iter(r["variants"].values()))
    if "epoch" in first:
        e = first["epoch"]
        out.append(
            f"search epoch ({first['variant']}): {e['seconds']:.1f} s = {e['shared_steps']} "
            f"shared steps {e['shared_s']:.1f} s + sampling {e['sample_archs_s']:.2f} s + "
            f"{e['controller_steps']} controller steps {e['controller_s']:.1f} s + evaluate "
            f"{e['evaluate_s']:.1f} s")
    if "full_epoch_s" in r:
        out.append(f"measured full run_epoch: {r['full_epoch_s']:.1f} s")
    m = r["memory"]
    out.append(f"memory: peak RSS {m['peak_rss_mb_search']:.0f} MB after the first variant, "
               f"{m['end']['peak_rss_mb']:.0f} MB at the end (start {m['start']['rss_mb']:.0f})")
    profiles = {name: v["profile"] for name, v in r["variants"].items()
                if "by_kind" in v.get("profile", {})}
    if profiles:
        kinds = list(dict.fromkeys(k["kind"] for p in profiles.values() for k in p["by_kind"]))
        per = {name: {k["kind"]: k for k in p["by_kind"]} for name, p in profiles.items()}
        rows = [[kind, *(x for name in profiles for x in (
            per[name].get(kind, {}).get("ms_per_step"),
            100 * per[name].get(kind, {}).get("share", 0.0)))] for kind in kinds]
        rows.append(["total (profiled)", *(x for p in profiles.values()
                                           for x in (p["profiled_ms_per_step"], 100.0))])
        out += ["", "CPU profile, self time per step by op kind (torch.profiler):"]
        out.append(_table(["op kind", *(h for name in profiles
                                        for h in (f"{name} ms", f"{name} %"))], rows))
    out += ["", "targets (issue 2):"]
    out.append(_table(["target", "wanted", "measured", "variant", "met", "met (low end)"],
                      [[t["name"], t["target"], t["value"], t.get("variant", ""), t["met"],
                        t.get("met_low_end")] for t in r["targets"]]))
    for w in r["warnings"]:
        out.append(f"WARNING: {w}")
    out.append(f"\nwrote {r['out']} ({r['wall_s']:.0f} s)")
    return "\n".join(out)


if __name__ == "__main__":
    main()
