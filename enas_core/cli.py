"""`enas`: search and train from the command line.

Other packages add subcommands through the `enas.commands` entry-point group (each entry point
is a `register(subparsers)` callable), so the engine never imports the service.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from .architecture import ArchitectureError, MacroArchitecture, MicroArchitecture, arch_from_json
from .config import AugmentConfig, RunConfig, Runtime
from .data import BUILTIN_DATASETS, DatasetError, prepare_data
from .metrics import EpochMetrics
from .pipeline import Cancelled, run_job
from .presets import PRESETS, preset_config
from .spaces import network_config_for

log = logging.getLogger("enas")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# (flag, dest, type, path into RunConfig, help). Defaults come from the preset.
OVERRIDES: list[tuple[str, type, tuple[str, ...], str]] = [
    ("--space", str, ("search.model.space", "train.model.space"), "search space: micro or macro"),
    ("--search-epochs", int, ("search.epochs",), "search epochs"),
    ("--final-epochs", int, ("train.epochs",), "final-training epochs (0: search only)"),
    ("--batch-size", int, ("search.batch_size",), "shared-weights training batch size"),
    ("--final-batch-size", int, ("train.batch_size",), "final-training batch size"),
    ("--layers", int, ("search.model.layers",),
     "search network depth (micro: normal cells, a multiple of 3; macro: layers)"),
    ("--channels", int, ("search.model.channels",), "search network channels"),
    ("--nodes", int, ("search.model.nodes", "train.model.nodes"), "nodes per micro cell"),
    ("--final-layers", int, ("train.model.layers",), "final network depth"),
    ("--final-channels", int, ("train.model.channels",), "final network channels"),
    ("--steps-per-epoch", int, ("search.steps_per_epoch",),
     "shared-weights steps per search epoch (default: one pass over the train split)"),
    ("--final-steps-per-epoch", int, ("train.steps_per_epoch",),
     "final-training steps per epoch (default: one pass over the train split)"),
    ("--controller-steps", int, ("search.controller.train_steps",),
     "controller updates per search epoch"),
    ("--controller-aggregate", int, ("search.controller.num_aggregate",),
     "architectures sampled per controller update"),
    ("--candidates", int, ("search.num_candidates",),
     "architectures sampled after the search and ranked on validation data"),
    ("--lr", float, ("search.lr_max",), "shared-weights maximum learning rate (cosine)"),
    ("--final-lr", float, ("train.lr_max",), "final-training maximum learning rate (cosine)"),
    ("--controller-lr", float, ("search.controller.lr",), "controller Adam learning rate"),
    ("--time-limit", float, ("search.time_limit_s",),
     "seconds of search before it ends with the best architecture so far"),
    ("--cutout", int, ("train.augment.cutout",), "final training: cutout square side (0: off)"),
    ("--drop-path", float, ("train.model.drop_path",), "final training: drop-path probability"),
]


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, path: str, value: Any) -> Any:
    head, _, rest = path.partition(".")
    if not rest:
        return replace(obj, **{head: value})
    return replace(obj, **{head: _set(getattr(obj, head), rest, value)})


# (flag, type, ConstraintConfig field, help): limits on the final network, `enas search` only.
CONSTRAINT_OPTIONS: list[tuple[str, type, str, str]] = [
    ("--max-params", int, "max_params", "limit on the final network's parameters"),
    ("--max-flops", int, "max_flops", "limit on its multiply-adds per image"),
    ("--max-latency-ms", float, "max_latency_ms",
     "limit on its inference latency in ms (predicted during the search from a per-op table "
     "measured once on --latency-device and cached)"),
    ("--max-memory-mb", float, "max_memory_mb",
     "limit on its peak inference memory in MiB (weights and activations at "
     "--latency-batch-size)"),
    ("--constraint-mode", str, "mode",
     "hard: a network over a limit is never chosen; soft: the reward is "
     "accuracy * (cost / limit) ** weight (MnasNet) (default: hard)"),
    ("--constraint-weight", float, "weight", "the soft limits' exponent, negative "
                                             "(default: -0.07, MnasNet's)"),
    ("--latency-device", str, "latency_device", "where latency and memory limits apply: cpu or "
                                                "cuda (default: cpu)"),
    ("--latency-batch-size", int, "latency_batch_size", "batch size latency and memory limits "
                                                        "apply at (default: 1)"),
]


def _add_constraint_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "constraints", "limits on the final network's costs; none is set by default")
    for flag, typ, _, text in CONSTRAINT_OPTIONS:
        kwargs: dict[str, Any] = {"choices": ("hard", "soft")} if flag == "--constraint-mode" \
            else {}
        group.add_argument(flag, type=typ, default=None, help=text, **kwargs)


def build_config(args: argparse.Namespace) -> RunConfig:
    config = preset_config(args.preset)
    for flag, _, paths, _ in OVERRIDES:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            for path in paths:
                config = _set(config, path, value)
    if getattr(args, "aux_head", False):
        config = _set(config, "train.model.aux_head", True)
    if args.augment:
        aug = AugmentConfig(crop_padding=4, flip=args.augment == "crop-flip")
        config = _set(config, "search.augment", aug)
        config = _set(config, "train.augment", replace(aug, cutout=config.train.augment.cutout))
    limits = {name: value for flag, _, name, _ in CONSTRAINT_OPTIONS
              if (value := getattr(args, flag[2:].replace("-", "_"), None)) is not None}
    if limits:
        config = _set(config, "search.constraints", replace(config.search.constraints, **limits))
    return replace(config, seed=args.seed)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits",
                   help=f"a built-in dataset ({', '.join(BUILTIN_DATASETS)}) or a file "
                        "(.npz, .csv, IDX zip, zip of class folders) (default: %(default)s)")
    p.add_argument("--data-dir", type=Path, default=Path("data"),
                   help="where built-in datasets are downloaded to or read from "
                        "(default: %(default)s)")
    p.add_argument("--val-size", type=float, default=None,
                   help="validation split: a count (>= 1) or a fraction of the training data "
                        "(default: 5,000 for MNIST, else 0.1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--device", default=default_device(),
                   help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default="fp32",
                   help="arithmetic precision on the device (default: %(default)s)")
    p.add_argument("--memory-format", choices=("auto", "channels_last", "contiguous"),
                   default="auto",
                   help="tensor layout: auto is channels_last on the CPU, where it is about "
                        "twice as fast, and contiguous elsewhere (default: %(default)s)")
    p.add_argument("--recompute", action="store_true",
                   help="search: recompute each cell's activations in the backward pass, "
                        "about 20x less activation memory for about 35%% more time "
                        "(default: off)")
    p.add_argument("--augment", choices=("crop", "crop-flip"), default=None,
                   help="random crop (padding 4), optionally with horizontal flips "
                        "(default: the preset's, none for quick)")
    p.add_argument("--aux-head", action="store_true",
                   help="final training: add an auxiliary classifier (default: off)")


def _add_overrides(p: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    quick = preset_config("quick")
    for flag, typ, paths, text in OVERRIDES:
        if only is not None and flag not in only:
            continue
        p.add_argument(flag, type=typ, default=None,
                       help=f"{text} (default: the preset's; quick: {_get(quick, paths[0])})")


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enas", description="Efficient Neural Architecture Search (ENAS, Pham et al. 2018)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("search", help="search for an architecture, then train it from scratch",
                       description="Search for an architecture with ENAS, then train the best "
                                   "one from scratch and report its test accuracy.")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick",
                   help="named settings to start from; options below override them "
                        "(default: %(default)s). "
                        + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()))
    _add_data_options(p)
    _add_overrides(p)
    _add_constraint_options(p)
    p.add_argument("--output", type=Path, default=Path("runs/search"),
                   help="folder for checkpoints, result.json and model.pt (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --output (default: start over)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("train", help="train a given architecture from scratch",
                       description="Train one architecture from scratch and report its test "
                                   "accuracy, parameters, FLOPs and latency.")
    p.add_argument("--arc", help='micro conv cell, 4 integers per node ("1 2 1 3 0 1 0 4 ..."), '
                                 "or the macro architecture's integers with --space macro")
    p.add_argument("--reduce-arc", help="micro reduction cell, 4 integers per node")
    p.add_argument("--arch-json", type=Path, help="an architecture JSON file instead of --arc "
                                                  "(a result.json's best architecture works)")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick",
                   help="named settings to start from (default: %(default)s)")
    _add_data_options(p)
    _add_overrides(p, only=("--space", "--final-epochs", "--final-batch-size", "--final-layers",
                            "--final-channels", "--nodes", "--final-lr", "--cutout",
                            "--final-steps-per-epoch",
                            "--drop-path"))
    p.add_argument("--output", type=Path, default=Path("runs/train"),
                   help="folder for result.json and model.pt (default: %(default)s)")
    p.set_defaults(func=cmd_train)

    for ep in entry_points(group="enas.commands"):
        try:
            register: Callable[[Any], None] = ep.load()
        except ImportError as exc:  # the service's extras may be absent in a library install
            log.debug("skipping enas.commands entry point %s: %s", ep.name, exc)
            continue
        register(sub)
    return parser


class Progress:
    """A tqdm bar over all epochs of both phases, with the best val_acc so far."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="epoch", dynamic_ncols=True)
        self.best: float | None = None

    def __call__(self, m: EpochMetrics) -> None:
        if m.phase == "search" and m.val_acc is not None:
            self.best = m.val_acc
        self.bar.set_description(f"{m.phase} {m.epoch}/{m.epochs}")
        post = {"loss": f"{m.train_loss:.3f}"}
        if self.best is not None:
            post["best_val"] = f"{self.best:.4f}"
        if m.phase == "final" and m.val_acc is not None:
            post["val"] = f"{m.val_acc:.4f}"
        self.bar.set_postfix(post)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _load(args: argparse.Namespace):  # -> Splits
    val = args.val_size
    if val is not None and val >= 1:
        val = int(val)
    return prepare_data(str(args.dataset), args.data_dir, seed=args.seed, val_size=val)


def _runtime(args: argparse.Namespace) -> Runtime:
    return Runtime(device=args.device, precision=args.precision,
                   channels_last={"auto": None, "channels_last": True,
                                  "contiguous": False}[args.memory_format],
                   recompute=getattr(args, "recompute", False))


def cmd_search(args: argparse.Namespace) -> int:
    config = build_config(args)
    data = _load(args)
    resume = None
    if args.resume:
        found = sorted((args.output / "checkpoints").glob("*.pt"),
                       key=lambda p: (p.name.startswith("final"), p.name))
        resume = found[-1] if found else None
        if resume is None:
            log.warning("no checkpoint in %s: starting a new search", args.output)
    progress = Progress(config.search.epochs + config.train.epochs)
    try:
        result = run_job(config, data, out_dir=args.output, runtime=_runtime(args),
                         on_epoch=progress, resume_from=resume)
    finally:
        progress.close()
    if result.best is None:
        print(f"enas: {result.constraints['message']}", file=sys.stderr)
        print(f"written: {args.output / 'result.json'}")
        return 1
    _print_result(result.best, result.final, args.output)
    return 0


def _parse_arch(args: argparse.Namespace, space: str):
    if args.arch_json:
        blob = json.loads(args.arch_json.read_text())
        if "best" in blob:  # a result.json
            blob = blob["best"]["arch"]
        return arch_from_json(blob.get("arch", blob))
    if space == "macro":
        if not args.arc:
            raise ArchitectureError("give --arc (the macro architecture's integers)")
        return MacroArchitecture.parse(args.arc)
    if not args.arc or not args.reduce_arc:
        raise ArchitectureError("give --arc and --reduce-arc (or --arch-json)")
    return MicroArchitecture.parse(args.arc, args.reduce_arc)


def cmd_train(args: argparse.Namespace) -> int:
    from .export import save_model
    from .train import Trainer

    config = build_config(args)
    arch = _parse_arch(args, config.train.model.space)
    train_cfg = replace(config.train, model=network_config_for(arch, config.train.model))
    data = _load(args)
    trainer = Trainer(arch, train_cfg, data, runtime=_runtime(args), seed=args.seed)
    progress = Progress(train_cfg.epochs)
    try:
        for _ in range(train_cfg.epochs):
            progress(trainer.run_epoch())
    finally:
        progress.close()
    final = trainer.report()
    args.output.mkdir(parents=True, exist_ok=True)
    save_model(args.output / "model.pt", trainer.model, arch=arch, config=train_cfg.model,
               input_shape=trainer.input_shape, classes=data.train.classes,
               mean=tuple(data.mean), std=tuple(data.std))
    result = {"best": {"arch": arch.to_json(), "val_acc": final["val_acc"]}, "final": final,
              "history": trainer.history}
    (args.output / "result.json").write_text(json.dumps(result, indent=2))
    _print_result(result["best"], final, args.output)
    return 0


def _print_result(best: dict[str, Any], final: dict[str, Any] | None, out: Path) -> None:
    arch = best["arch"]
    lines = []
    if arch["space"] == "micro":
        lines += [f"conv cell:      {arch['conv_text']}", f"reduction cell: {arch['reduce_text']}"]
    else:
        lines.append(f"architecture: {arch['text']}")
    lines.append(f"val_acc (search): {best['val_acc']:.4f}")
    if final:
        lines.append(
            f"test_acc: {final['test_acc']:.4f}  params: {final['params']:,}  "
            f"FLOPs: {final['flops']:,}  latency: {final['latency_ms']:.2f} ms "
            f"(batch {final['latency_batch_size']}, {final['device']})"
        )
        for c in final.get("constraints", []):
            mark = "met" if c["met"] else "NOT met"
            where = f" ({c['device']}, batch {c['batch_size']})" if "device" in c else ""
            lines.append(f"max_{c['name']} {c['limit']:,.6g} ({c['mode']}): measured "
                         f"{c['value']:,.6g}{where}, {mark}")
    lines.append(f"written: {out / 'result.json'}" + (f", {out / 'model.pt'}" if final else ""))
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (DatasetError, ArchitectureError, ValueError) as exc:
        print(f"enas: error: {exc}", file=sys.stderr)
        return 2
    except Cancelled:
        print("enas: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nenas: interrupted; rerun with --resume to continue from the last checkpoint",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
