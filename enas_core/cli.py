"""`enas`: search and train from the command line.

Other packages add subcommands through the `enas.commands` entry-point group (each entry point
is a `register(subparsers)` callable), so the engine never imports the service.

Building the parser imports no torch: the engine loads when a command that runs it does, so
`enas keys create` (a database row) runs in 80 MB, not 610 (tests/api/test_cli.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .architecture import ArchitectureError
from .config import Cancelled, RunConfig, Runtime
from .data import BUILTIN_DATASETS, DatasetError, prepare_data
from .data.formats import describe as describe_formats
from .options import GROUPS, OPTIONS, Option, OptionError
from .options import build_config as build_options
from .presets import PRESETS, preset_config
from .progress import ProgressClock, format_duration
from .spaces import arch_from_json, get_space, network_config_for, space_names
from .threads import THREADS_ENV, configure_threads, parse_threads, passive_wait_policy

if TYPE_CHECKING:
    from .metrics import EpochMetrics

ARC_FLAGS = ("--arc", "--reduce-arc")  # `enas train`: a text form's integer lists, in order

log = logging.getLogger("enas")


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _option_type(option: Option) -> Callable[[str], Any]:
    """argparse's `type=`: the text as the option's type, checked against its bounds."""

    def parse(text: str) -> Any:
        try:
            value = option.type(text) if option.type is not str else text
        except ValueError:
            kind = "an integer" if option.type is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        try:
            return option.check(value)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = option.type.__name__  # argparse names the type in its messages
    return parse


def _add_options(p: argparse.ArgumentParser, groups: Sequence[str]) -> None:
    """One flag per job option (enas_core.options) of `groups`; unset, an option keeps the
    preset's value. Older spellings are accepted without being listed."""
    quick = preset_config("quick")
    for group in groups:
        section = p.add_argument_group(GROUPS[group])
        for option in OPTIONS.values():
            if option.group != group:
                continue
            text = f"{option.help} (default: "
            text += ("none)" if group == "constraints" and option.name.startswith("max_")
                     else f"the preset's; quick: {option.describe_default(quick)})")
            if option.bounds():
                text += f"; {option.bounds()}"
            text = text.replace("%", "%%")
            if option.type is bool:
                section.add_argument(option.flag, dest=option.name, default=None, help=text,
                                     action=argparse.BooleanOptionalAction)
                continue
            kwargs: dict[str, Any] = {"dest": option.name, "default": None,
                                      "type": _option_type(option)}
            if option.allowed() is not None:
                kwargs["choices"] = option.allowed()
            section.add_argument(option.flag, help=text, **kwargs)
            for alias in option.aliases:
                section.add_argument(alias, help=argparse.SUPPRESS, **kwargs)


def build_config(args: argparse.Namespace) -> RunConfig:
    values = {name: getattr(args, name) for name in OPTIONS if hasattr(args, name)}
    return build_options(values, preset=args.preset)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits",
                   help=f"a built-in dataset ({', '.join(BUILTIN_DATASETS)}) or a file: "
                        f"{describe_formats()} (default: %(default)s)")
    p.add_argument("--data-dir", type=Path, default=Path("data"),
                   help="where built-in datasets are downloaded to or read from "
                        "(default: %(default)s)")
    p.add_argument("--val-size", type=float, default=None,
                   help="validation split: a count (>= 1) or a fraction of the training data "
                        "(default: 5,000 for MNIST, else 0.1)")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: cuda where there is one, else cpu)")
    p.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default="fp32",
                   help="arithmetic precision on the device (default: %(default)s)")
    p.add_argument("--memory-format", choices=("auto", "channels_last", "contiguous"),
                   default="auto",
                   help="tensor layout: auto is channels_last on the CPU, where it is about "
                        "twice as fast, and contiguous elsewhere (default: %(default)s)")
    p.add_argument("--threads", type=_threads_type, default=None, metavar="N",
                   help=f"CPU threads torch uses (default: {THREADS_ENV} if set, else "
                        "OMP_NUM_THREADS, else the cores this process may use: its CPU "
                        "affinity and cgroup quota). Idle threads sleep "
                        "(OMP_WAIT_POLICY=PASSIVE unless set). 1 spends the least CPU time per "
                        "step: the choice for a host shared with other work")
    p.add_argument("--recompute", action="store_true",
                   help="search: recompute each cell's activations in the backward pass, "
                        "about 20x less activation memory for about 35%% more time "
                        "(default: off)")


def _threads_type(text: str) -> int:
    try:
        return parse_threads(text, source="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    _add_options(p, tuple(GROUPS))
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
    _add_options(p, ("space", "final", "run"))
    p.add_argument("--output", type=Path, default=Path("runs/train"),
                   help="folder for result.json and model.pt (default: %(default)s)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "example-data", help="write a small real dataset file to try uploads with",
        description="Write real MNIST handwritten digits (28x28, from the sample bundled with "
                    "the package; no download) as an .npz upload (arrays x, y).")
    p.add_argument("path", type=Path, help="the file to write, e.g. digits.npz")
    p.add_argument("--samples", type=int, default=1000, choices=range(10, 5001),
                   metavar="N", help="digits to write, 10..5000 (default: %(default)s)")
    p.set_defaults(func=cmd_example_data)

    p = sub.add_parser("draw", help="draw an architecture as SVG",
                       description="Draw an architecture's cells (micro) or layers and skips "
                                   "(macro) as an SVG picture.")
    p.add_argument("source", nargs="?", type=Path,
                   help="a result.json (its best architecture) or an architecture JSON file; "
                        "or give --arc/--reduce-arc")
    p.add_argument("--arc", help='micro conv cell, 4 integers per node ("1 2 1 3 0 1 0 4 ..."), '
                                 "or the macro architecture's integers with --space macro")
    p.add_argument("--reduce-arc", help="micro reduction cell, 4 integers per node")
    p.add_argument("--space", choices=space_names(), default="micro",
                   help="the space of --arc (default: %(default)s)")
    p.add_argument("--title", help="a title above the picture")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="the SVG file to write (default: print it)")
    p.set_defaults(func=cmd_draw)

    for ep in entry_points(group="enas.commands"):
        try:
            register: Callable[[Any], None] = ep.load()
        except ImportError as exc:  # the service's extras may be absent in a library install
            log.debug("skipping enas.commands entry point %s: %s", ep.name, exc)
            continue
        register(sub)
    return parser


class Progress:
    """A tqdm bar over all epochs of both phases, with the best val_acc so far, what the run
    does where the bar stands still (preparing; ranking the candidates after the search;
    testing and saving a trained network), and an ETA from `progress.ProgressClock` (tqdm's
    own would count the preparing and the slow first steps). `phase` is `run_job`'s
    `on_phase`, the instance its `on_epoch`."""

    AFTER = {"search": "ranking the candidates", "select": "training the pick in full",
             "final": "testing the network, saving it",
             "baseline": "testing the baseline, saving it"}
    FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"

    def __init__(self, total: int, *, start: float | None = None,
                 clock: Callable[[], float] = time.monotonic, file: Any = None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="epoch", dynamic_ncols=True, bar_format=self.FORMAT,
                        file=file)
        self.clock = clock
        self.timing = ProgressClock(start=start)
        self.best: float | None = None
        self.post: dict[str, str] = {}

    def phase(self, phase: str, *, epoch: int = 0, epochs: int = 0,
              progress: float = 0.0) -> None:
        self.timing.report(self.clock(), progress)
        what = "preparing: the data, latency tables" if phase == "preparing" else \
            f"{phase} {epoch}/{epochs}"
        self._show(what)

    def __call__(self, m: EpochMetrics) -> None:
        self.timing.report(self.clock(), m.progress)
        if m.phase == "search" and m.val_acc is not None:
            self.best = m.val_acc
        self.post = {"loss": f"{m.train_loss:.3f}"}
        if self.best is not None:
            self.post["best_val"] = f"{self.best:.4f}"
        if m.phase == "final" and m.val_acc is not None:
            self.post["val"] = f"{m.val_acc:.4f}"
        self.bar.update(1)
        done = m.epoch >= m.epochs  # what follows the last epoch moves no bar
        self._show(f"{m.phase} {m.epoch}/{m.epochs}" + (f" done, {self.AFTER[m.phase]}" if done
                                                         else ""))

    def _show(self, what: str) -> None:
        eta = self.timing.eta(self.clock())
        post = self.post | ({"ETA": format_duration(eta)} if eta is not None else {})
        self.bar.set_description(what, refresh=False)
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _load(args: argparse.Namespace, seed: int):  # -> Splits
    val = args.val_size
    if val is not None and val >= 1:
        val = int(val)
    return prepare_data(str(args.dataset), args.data_dir, seed=seed, val_size=val)


def _runtime(args: argparse.Namespace) -> Runtime:
    return Runtime(device=args.device or default_device(), precision=args.precision,
                   channels_last={"auto": None, "channels_last": True,
                                  "contiguous": False}[args.memory_format],
                   recompute=getattr(args, "recompute", False))


def cmd_search(args: argparse.Namespace) -> int:
    from .pipeline import checkpoint_order, run_job
    from .selection import rounds
    from .stage_rule import stage_of
    from .usage import summary as usage_summary

    configure_threads(args.threads)
    config = build_config(args)
    data = _load(args, config.seed)
    resume = None
    if args.resume:
        found = sorted((args.output / "checkpoints").glob("*.pt"), key=checkpoint_order)
        resume = found[-1] if found else None
        if resume is None:
            log.warning("no checkpoint in %s: starting a new search", args.output)
    trainings = 2 if config.baseline == "random" else 1
    stage = stage_of(config)
    select_steps = sum(n for n, _ in rounds(stage.candidates, stage.epochs)) \
        if stage.active else 0
    progress = Progress(config.search.epochs + select_steps + trainings * config.train.epochs)
    try:
        result = run_job(config, data, out_dir=args.output, runtime=_runtime(args),
                         on_epoch=progress, on_phase=progress.phase, resume_from=resume)
    finally:
        progress.close()
    if result.best is None:
        print(f"enas: {result.constraints['message']}", file=sys.stderr)
        print(f"written: {args.output / 'result.json'}")
        return 1
    _print_result(result.best, result.final, args.output)
    _print_comparison(result.search_report, result.final, result.baseline)
    print(usage_summary(result.usage))
    return 0


def _print_comparison(report: dict[str, Any] | None, final: dict[str, Any] | None,
                      baseline: dict[str, Any] | None) -> None:
    """What the search bought: its candidates against random ones, and with a random
    baseline both test accuracies."""
    if report is None:
        return
    lines = []
    if report["summary"]:
        ctrl, rnd = report["controller"], report["random"]
        lines.append(f"search: {report['summary']}; mean val_acc {ctrl['mean']:.4f} against "
                     f"{rnd['mean']:.4f} ({ctrl['n']} each)")
    else:
        rnd = report["random"]
        lines.append(f"random search: {rnd['n']} candidates, mean val_acc {rnd['mean']:.4f}, "
                     f"best {rnd['best']:.4f}")
    if report.get("selection"):
        lines.append(f"selection: {report['selection']['summary']}")
    if final and baseline and baseline.get("final"):
        lines.append(f"test_acc: {final['test_acc']:.4f} (search's best) against "
                     f"{baseline['final']['test_acc']:.4f} (best random candidate, same "
                     f"training)")
    print("\n".join(lines))


def _parse_arch(args: argparse.Namespace, space: str):
    if args.arch_json:
        blob = json.loads(args.arch_json.read_text())
        if "best" in blob:  # a result.json
            if not blob["best"]:
                raise ArchitectureError(f"{args.arch_json} has no best architecture (the "
                                        "search found none within its hard limits)")
            blob = blob["best"]["arch"]
        return arch_from_json(blob.get("arch", blob))
    # One flag per integer list of the space's text form (micro: two cells; macro: one list).
    parts = get_space(space).text_parts
    flags = ARC_FLAGS[: len(parts)]
    texts = [getattr(args, flag[2:].replace("-", "_"), None) for flag in flags]
    if not all(texts):
        what = ", ".join(f"{flag} ({part})" for flag, part in zip(flags, parts, strict=True))
        raise ArchitectureError(f"give {' and '.join(flags)} (or --arch-json): {what}")
    return get_space(space).parse(*texts)


def cmd_example_data(args: argparse.Namespace) -> int:
    import numpy as np

    from .data import load_digits

    digits = load_digits()
    x = digits.x[: args.samples, :, :, 0]  # (N, 28, 28) grey
    y = digits.y[: args.samples]
    path = args.path if args.path.suffix == ".npz" else args.path.with_name(
        args.path.name + ".npz")  # np.savez would add it
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, y=y)
    print(f"written: {path} ({len(x):,} digits, {x.shape[1]}x{x.shape[2]}, "
          f"{len(np.unique(y))} classes)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .export import save_model
    from .train import Trainer

    configure_threads(args.threads)
    config = build_config(args)
    arch = _parse_arch(args, config.train.model.space)
    train_cfg = replace(config.train, model=network_config_for(arch, config.train.model))
    data = _load(args, config.seed)
    trainer = Trainer(arch, train_cfg, data, runtime=_runtime(args), seed=config.seed)
    progress = Progress(train_cfg.epochs, start=0.0)
    try:
        for _ in range(train_cfg.epochs):
            metrics = trainer.run_epoch()
            metrics.progress = trainer.epoch / train_cfg.epochs
            progress(metrics)
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


def cmd_draw(args: argparse.Namespace) -> int:
    from .spaces import draw

    if args.source is not None and (args.arc or args.reduce_arc):
        raise ArchitectureError("give a JSON file or --arc/--reduce-arc, not both")
    if args.source is not None and not args.source.is_file():
        raise ArchitectureError(f"{args.source}: no such file")
    args.arch_json = args.source
    try:
        arch = _parse_arch(args, args.space)
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{args.source} is not JSON ({exc})") from None
    svg = draw(arch, title=args.title)
    if args.output is None:
        sys.stdout.write(svg + "\n")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(svg)
    print(f"written: {args.output}")
    return 0


def _print_result(best: dict[str, Any], final: dict[str, Any] | None, out: Path) -> None:
    arch = best["arch"]
    parts = get_space(arch["space"]).text_lines(arch)
    width = max(len(label) for label, _ in parts) + 1
    lines = [f"{label + ':':<{width}} {text}" for label, text in parts]
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
        lines += [f"WARNING: {w['message']}" for w in final.get("warnings", [])]
    lines.append(f"written: {out / 'result.json'}" + (f", {out / 'model.pt'}" if final else ""))
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    passive_wait_policy()  # before anything loads torch (and its OpenMP) in this process
    parser = _make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except OptionError as exc:
        name = OPTIONS[exc.option].flag if exc.option in OPTIONS else f"--{exc.option}"
        print(f"enas: error: {name}: {exc}", file=sys.stderr)
        return 2
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
