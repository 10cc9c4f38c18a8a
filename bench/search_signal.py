"""Does the search learn? Three figures per seed, from the engine's own `Searcher`:

1. the shared model's train accuracy at the end of the search (a fresh architecture every
   step), next to the same search network trained on ONE fixed architecture for as many steps;
2. the controller's mean entropy per architecture, first epoch against last;
3. the search report: the controller's candidates against as many drawn uniformly, ranked on
   the validation split with the same shared weights, and the bootstrap 95% interval of the
   difference of their means.

    python bench/search_signal.py                          # quick preset, digits, seeds 0-2
    python bench/search_signal.py --preset demo --seeds 0
    python bench/search_signal.py --set search.model.sharing=edge   # any config field

Prints a table and writes bench/results/search-signal-<preset>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from enas_core import prepare_data, preset_config  # noqa: E402
from enas_core.config import RunConfig, Runtime, from_dict, to_dict  # noqa: E402
from enas_core.runtime import cosine_lr, cycle, set_lr  # noqa: E402
from enas_core.search import Searcher  # noqa: E402
from enas_core.spaces import random_architecture  # noqa: E402


def override(config: RunConfig, assignments: list[str]) -> RunConfig:
    """`search.model.sharing=edge`-style assignments (values parsed as JSON when they can be)."""
    data = to_dict(config)
    for item in assignments:
        path, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        if last not in node:
            raise SystemExit(f"unknown config field {path!r}")
        node[last] = value
    return from_dict(RunConfig, data)


def fixed_arch_train_acc(config: RunConfig, data: Any, seed: int, steps: int) -> float:
    """The search network trained on one architecture (drawn uniformly) for `steps` steps
    with the search's optimiser and schedule: train accuracy over the last epoch's worth."""
    searcher = Searcher(config.search, data, seed=seed)
    arch = random_architecture(config.search.model, random.Random(seed))
    per_epoch = config.search.steps_per_epoch or len(searcher.train_loader)
    epochs = max(1, -(-steps // per_epoch))
    batches = cycle(searcher.train_loader)
    searcher.model.train()
    correct = seen = 0
    for step in range(steps):
        epoch = step // per_epoch
        set_lr(searcher.w_opt, cosine_lr(epoch, epochs, config.search.lr_max,
                                          config.search.lr_min))
        x, y = next(batches)
        out = searcher.model(x, arch)
        logits = out[0] if isinstance(out, tuple) else out  # (logits, aux) with an aux head
        loss = F.cross_entropy(logits, y)
        searcher.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(searcher.model.parameters(), config.search.grad_clip)
        searcher.w_opt.step()
        if step >= steps - per_epoch:
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
    return correct / max(seen, 1)


def run_seed(config: RunConfig, data: Any, seed: int, fixed: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    searcher = Searcher(config.search, data, runtime=Runtime(device="cpu"), seed=seed)
    epochs = []
    while searcher.epoch < config.search.epochs:
        m = searcher.run_epoch()
        epochs.append({"epoch": m.epoch, "train_acc": m.train_acc, "train_loss": m.train_loss,
                       "entropy": m.entropy, "mean_reward": m.mean_reward,
                       "val_acc": m.val_acc})
        print(f"  seed {seed} epoch {m.epoch}: train_acc {m.train_acc:.3f} "
              f"entropy {m.entropy if m.entropy is None else round(m.entropy, 2)} "
              f"mean_reward {m.mean_reward:.3f}", flush=True)
    searcher.derive()
    search_s = time.perf_counter() - t0
    report = searcher.report
    steps = (config.search.steps_per_epoch or len(searcher.train_loader)) * config.search.epochs
    out = {"seed": seed, "steps": steps, "epochs": epochs, "search_report": report,
           "search_seconds": search_s,
           "train_acc": epochs[-1]["train_acc"],
           "entropy_first": epochs[0]["entropy"], "entropy_last": epochs[-1]["entropy"]}
    if fixed:
        out["fixed_arch_train_acc"] = fixed_arch_train_acc(config, data, seed, steps)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a config field, e.g. search.epochs=3")
    parser.add_argument("--no-fixed", action="store_true",
                        help="skip the fixed-architecture comparison (saves its time)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = override(preset_config(args.preset), args.set)
    data = prepare_data(args.dataset)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"search signal: preset {args.preset}, {args.dataset}, seeds {seeds}, "
          f"{torch.get_num_threads()} threads")
    runs = [run_seed(replace(config, seed=seed), data, seed, not args.no_fixed)
            for seed in seeds]

    print(f"\n{'seed':>4} {'steps':>5} {'train acc':>9} {'fixed':>6} {'entropy':>15} "
          f"{'ctrl mean':>9} {'rand mean':>9} {'diff [95% CI] (points)':>26} {'s':>5}")
    for r in runs:
        rep = r["search_report"]
        ctrl, rnd, diff = rep["controller"], rep["random"], rep["difference"]
        ci = (f"{100 * diff['mean']:+.1f} [{100 * diff['ci95'][0]:+.1f}, "
              f"{100 * diff['ci95'][1]:+.1f}]") if diff else "-"
        ent = (f"{r['entropy_first']:.2f} -> {r['entropy_last']:.2f}"
               if r["entropy_first"] is not None else "-")
        fixed = f"{r['fixed_arch_train_acc']:.3f}" if "fixed_arch_train_acc" in r else "-"
        print(f"{r['seed']:>4} {r['steps']:>5} {r['train_acc']:>9.3f} {fixed:>6} {ent:>15} "
              f"{ctrl['mean'] if ctrl else float('nan'):>9.3f} {rnd['mean']:>9.3f} {ci:>26} "
              f"{r['search_seconds']:>5.0f}")
    wins = sum(1 for r in runs if (r["search_report"]["difference"] or {}).get("ci95", [0])[0] > 0)
    print(f"controller beats random (interval above zero) in {wins} of {len(runs)} seeds")
    result = {
        "preset": args.preset, "dataset": args.dataset, "overrides": args.set,
        "config": to_dict(config), "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "runs": runs, "controller_wins": wins,
    }
    out = args.out or ROOT / "bench" / "results" / f"search-signal-{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
