"""Does our shared model learn as fast per step as NNI v2.8's `EnasTrainer`? Same data, steps.

    python bench/nni_compare.py                      # quick preset's search budget, digits
    python bench/nni_compare.py --seeds 0,1 --epochs 3

NNI is not a dependency of this project; install it beside torch in a separate environment
(`pip install --no-deps nni==2.8` and its imports: colorama json_tricks typeguard psutil astor
schema responses pytorch_lightning PyYAML cloudpickle). NNI 2.8 ships no ENAS search space for
its one-shot `EnasTrainer` (its examples hold one); `nni_network` (bench/nni_space.py) is the
reference's micro space written with NNI's `LayerChoice` and `InputChoice`, structured as NNI's
example: one op choice per node input slot (our `sharing=node`), reduction cells that
factor-reduce their inputs and then run a stride-1 cell, a 1x1 convolution over the unused nodes.

Both sides train the shared weights only (the controllers are not updated, so neither side's
reward signal enters), for the quick preset's search budget: the bundled digits' training
split, batch 32, SGD with Nesterov momentum 0.9, weight decay 1e-4, gradient clip 5, cosine
from 0.05 to 5e-4 per epoch, a fresh architecture from each side's own initial controller at
every step. Figure: train accuracy over each epoch's steps. Ours runs with `sharing=node` (as
NNI's network) and `sharing=cell` (the quick preset's). Writes bench/results/nni-compare.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.nni_space import nni_network  # noqa: E402
from enas_core import prepare_data, preset_config  # noqa: E402
from enas_core.config import Runtime, SearchConfig  # noqa: E402
from enas_core.data.loader import DeviceLoader  # noqa: E402
from enas_core.runtime import cosine_lr, never  # noqa: E402
from enas_core.search import Searcher  # noqa: E402


def ours(config: SearchConfig, data: Any, seed: int) -> list[float]:
    searcher = Searcher(config, data, runtime=Runtime(device="cpu"), seed=seed)
    accs = []
    for epoch in range(config.epochs):
        lr = cosine_lr(epoch, config.epochs, config.lr_max, config.lr_min)
        accs.append(searcher.train_shared(lr, never)[1])
        print(f"    ours ({config.model.sharing}) seed {seed} epoch {epoch + 1}: "
              f"train acc {accs[-1]:.3f}", flush=True)
    return accs


def run_nni(config: SearchConfig, data: Any, seed: int) -> list[float]:
    from nni.retiarii.oneshot.pytorch import EnasTrainer

    torch.manual_seed(seed)
    train = data.train
    model = nni_network(train.channels, train.num_classes, config.model.channels,
                        config.model.nodes, config.model.layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr_max, momentum=config.momentum,
                                nesterov=True, weight_decay=config.weight_decay)
    correct: list[float] = []

    def metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        correct.append(float((logits.argmax(1) == y).float().mean()))
        return {"acc": correct[-1]}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # EnasTrainer -> strategy.ENAS
        trainer = EnasTrainer(
            model, loss=F.cross_entropy, metrics=metrics, reward_function=lambda *_: 0.0,
            optimizer=optimizer, num_epochs=config.epochs, dataset=[(0, 0)] * 2,
            batch_size=config.batch_size, workers=0, device=torch.device("cpu"),
            grad_clip=config.grad_clip,
        )
    # The very batches our Searcher draws (same split, normalisation, order for the seed).
    trainer.train_loader = DeviceLoader(
        train, batch_size=config.batch_size, augment=config.augment, device=torch.device("cpu"),
        mean=data.mean, std=data.std, generator=torch.Generator().manual_seed(seed + 1),
    )
    accs = []
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(epoch, config.epochs, config.lr_max, config.lr_min)
        correct.clear()
        trainer._train_model(epoch)  # the shared-weight half of EnasTrainer.fit's epoch
        accs.append(sum(correct) / len(correct))
        print(f"    nni seed {seed} epoch {epoch + 1}: train acc {accs[-1]:.3f}", flush=True)
    return accs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nni-compare.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if importlib.util.find_spec("nni") is None:
        raise SystemExit("NNI is not installed here: see the install hint in " + __file__)

    base = preset_config(args.preset).search
    if args.epochs:
        base = replace(base, epochs=args.epochs)
    data = prepare_data("digits")
    seeds = [int(s) for s in args.seeds.split(",")]
    def shared(sharing: str) -> SearchConfig:
        return replace(base, model=replace(base.model, sharing=sharing))

    arms = {
        "nni-2.8 EnasTrainer (per node slot)": lambda s: run_nni(base, data, s),
        "ours, sharing=node": lambda s: ours(shared("node"), data, s),
        "ours, sharing=cell": lambda s: ours(shared("cell"), data, s),
    }
    steps = len(DeviceLoader(data.train, batch_size=base.batch_size, device=torch.device("cpu"),
                             mean=data.mean, std=data.std))
    print(f"nni compare: {args.preset} search budget, digits, {base.epochs} epochs x {steps} "
          f"steps of batch {base.batch_size}, seeds {seeds}, {args.threads} thread(s)")
    results: dict[str, Any] = {}
    for name, run in arms.items():
        for seed in seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            accs = run(seed)
            results.setdefault(name, []).append({
                "seed": seed, "train_acc_per_epoch": accs,
                "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0})
    print(f"\n{'arm':40s} " + " ".join(f"{'ep' + str(e + 1):>6}" for e in range(base.epochs))
          + f" {'CPU s/step':>10}")
    for name, runs in results.items():
        per_epoch = [sum(r["train_acc_per_epoch"][e] for r in runs) / len(runs)
                     for e in range(base.epochs)]
        cpu = sum(r["cpu_seconds"] for r in runs) / len(runs) / (steps * base.epochs)
        print(f"{name:40s} " + " ".join(f"{a:6.3f}" for a in per_epoch) + f" {cpu:10.3f}")
    out = {"preset": args.preset, "epochs": base.epochs, "steps_per_epoch": steps,
           "batch_size": base.batch_size, "threads": args.threads, "torch": torch.__version__,
           "machine": platform.processor() or platform.machine(), "arms": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
