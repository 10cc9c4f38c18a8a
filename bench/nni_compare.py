"""Does our shared model learn as fast per step as NNI v2.8's `EnasTrainer`? Same data, steps.

    python bench/nni_compare.py                      # quick preset's search budget, digits
    python bench/nni_compare.py --seeds 0,1 --epochs 3

NNI is not a dependency of this project; install it beside torch in a separate environment
(`pip install --no-deps nni==2.8` and its imports: colorama json_tricks typeguard psutil astor
schema responses pytorch_lightning PyYAML). NNI 2.8 ships no ENAS search space for its
one-shot `EnasTrainer` (its examples hold one); `NniMicroNetwork` below is the reference's
micro space written with NNI's `LayerChoice` and `InputChoice`, structured as NNI's example:
one op choice per node input slot (our `sharing=node`), reduction cells that factor-reduce
their inputs and then run a stride-1 cell, a 1x1 convolution over the unused nodes.

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
from torch import nn  # noqa: E402

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


def nni_network(channels: int, classes: int, width: int, nodes: int) -> nn.Module:
    """The reference's micro space in NNI's primitives (see the module's docstring)."""
    from nni.retiarii.nn.pytorch import InputChoice, LayerChoice

    def relu_conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                             nn.BatchNorm2d(c_out, affine=False))

    def sep_conv(c: int, k: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(2):  # the reference stacks two ReLU-sepconv-BN
            layers += [nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False)]
        return nn.Sequential(*layers)

    class FactorizedReduce(nn.Module):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.a = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
            self.b = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
            self.bn = nn.BatchNorm2d(c_out, affine=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.relu(x)
            return self.bn(torch.cat([self.a(x), self.b(F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:])], 1))

    class Cell(nn.Module):
        def __init__(self, prefix: str, c_pp: int, c_p: int, c: int, reduce_pp: bool) -> None:
            super().__init__()
            self.pre0 = FactorizedReduce(c_pp, c) if reduce_pp else relu_conv_bn(c_pp, c)
            self.pre1 = relu_conv_bn(c_p, c)
            self.inputs = nn.ModuleList()
            self.ops = nn.ModuleList()
            for node in range(nodes):
                for slot in "xy":
                    label = f"{prefix}_node{node}_{slot}"
                    self.inputs.append(InputChoice(n_candidates=node + 2, n_chosen=1,
                                                   label=f"{label}_input"))
                    self.ops.append(LayerChoice([
                        sep_conv(c, 3), sep_conv(c, 5), nn.AvgPool2d(3, 1, 1),
                        nn.MaxPool2d(3, 1, 1), nn.Identity(),
                    ], label=f"{label}_op"))
            self.out = relu_conv_bn(c * nodes, c)

        def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
            states = [self.pre0(s0), self.pre1(s1)]
            used = [False] * (nodes + 2)
            for node in range(nodes):
                total = 0
                for i in (2 * node, 2 * node + 1):
                    choice = self.inputs[i]
                    used[choice.sampled] = True
                    total = total + self.ops[i](choice(states))
                states.append(total)
            # Unused nodes are concatenated; used ones are zeroed (the 1x1 conv's weight slice).
            outs = [s if not used[k + 2] else torch.zeros_like(s)
                    for k, s in enumerate(states[2:])]
            return self.out(torch.cat(outs, 1))

    class Reduction(nn.Module):
        def __init__(self, prefix: str, c_pp: int, c_p: int, c: int) -> None:
            super().__init__()
            self.reduce0 = FactorizedReduce(c_pp, c)
            self.reduce1 = FactorizedReduce(c_p, c)
            self.cell = Cell(prefix, c, c, c, reduce_pp=False)

        def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
            return self.cell(self.reduce0(s0), self.reduce1(s1))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(channels, 3 * width, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(3 * width))
            c_pp, c_p, c = 3 * width, 3 * width, width
            cells: list[nn.Module] = []
            reduce_pp = False
            for stage in range(3):  # one normal cell per stage (3 layers), reductions between
                if stage:
                    c *= 2
                    cells.append(Reduction("reduce", c_pp, c_p, c))
                    c_pp, c_p, reduce_pp = c_p, c, True
                cells.append(Cell("conv", c_pp, c_p, c, reduce_pp))
                c_pp, c_p, reduce_pp = c_p, c, False
            self.cells = nn.ModuleList(cells)
            self.head = nn.Linear(c_p, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s0 = s1 = self.stem(x)
            for cell in self.cells:
                s0, s1 = s1, cell(s0, s1)
            return self.head(F.adaptive_avg_pool2d(F.relu(s1), 1).flatten(1))

    return Network()


def run_nni(config: SearchConfig, data: Any, seed: int) -> list[float]:
    from nni.retiarii.oneshot.pytorch import EnasTrainer

    torch.manual_seed(seed)
    train = data.train
    model = nni_network(train.channels, train.num_classes, config.model.channels,
                        config.model.nodes)
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
