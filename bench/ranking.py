"""Score ranking signals against the ground-truth table (bench/space_table.py).

    python bench/ranking.py --dataset digits --signal naswot,synflow,jacob_cov
    python bench/ranking.py --dataset digits --signal epoch1,epoch2        # short training
    python bench/ranking.py --dataset digits --signal shared --preset demo
    python bench/ranking.py --dataset digits --signal shared --preset demo --option sharing=node
    python bench/ranking.py --dataset digits --signal shared+naswot        # rank average

For each signal: Kendall tau and Spearman rho against the table's test accuracy (`--truth`:
the mean over the seeds an architecture was trained with, the default, or seed 0's alone), with
95 % bootstrap intervals over architectures; the precision of its top 10 % (the share of its
top tenth that is in the table's top tenth); and the table percentile of its pick (100: the
best architecture of the table); and, as a tabular benchmark evaluates a search, what its
pick among 8 random architectures is worth (a selection stage of 8 candidates ranked by it):
the mean table percentile of that pick (50: a random pick) and its regret in points. It also
prints the ceiling: the tau a perfect signal (the architectures' expected accuracy) would
reach against this truth, given the seed-to-seed noise the table measured (simulated); no
signal can be expected above it; and the pick of 8 that even the truth itself makes (the best
of 8 uniform draws: the 90th percentile of a 60-architecture table) and that a perfect signal
makes given the table's noise (lower): a pick at or above the table's 90th percentile is out
of reach of any ranking of a uniform pool of 8, and needs a pool better than uniform.
The signals:
- `shared`: validation accuracy with shared weights after a search (`--preset`, `--option`
  name=value for any job option, e.g. sharing, shared_sampling, search_epochs);
- `naswot` (Mellor et al. 2021: log-determinant of the ReLU codes' kernel), `synflow`
  (Tanaka et al. 2020 as in Abdelfattah et al. 2021) and `jacob_cov` (Mellor et al. 2020):
  training-free, on the untrained network, in seconds;
- `oneshot`: the same, the shared weights trained on uniform draws for the preset's
  shared-weight steps and no controller (the baseline of `fewshot`);
- `fewshot` (Zhao et al. 2021, few-shot NAS): `oneshot` for the first half of those steps,
  then one copy of the shared weights per op of the conv cell's first edge, each trained on the
  draws with that op for an equal share of the other half (the same compute in all); an
  architecture is scored on the copy of its op;
- `epochN`: the table's own validation accuracy after N epochs of its protocol (a short
  stand-alone training, as a multi-fidelity signal);
- `trainN`: its training accuracy during epoch N (4,500 images against validation's 500);
  `sotaN`: the sum over the first N epochs (the accuracy form of Ru et al. 2021's sum of
  training losses, which ranks better early in training than validation does);
- `params`, `flops`: the size of the final network (the baseline any signal has to beat:
  Ning et al. 2021 found it hard to);
- `prior`: the micro space's prior (enas_core/spaces/micro/prior.py: a ridge regression on
  each cell's op shares), fitted on the other dataset's table only (bench/prior.py);
- `seed1`: the table's own test accuracy with training seed 1 (the architectures trained with
  2 seeds), scored against seed 0's: how far one training agrees with another of the same
  architecture (the noise in a single-seed truth; a mean over seeds is steadier);
- `a+b`: the average of the signals' ranks.
Writes bench/tables/ranking-<dataset>.json (committed: one entry per signal, merged with
earlier runs; a search's scores of all the table's draws are kept, so that rescoring against a
table that has grown costs seconds, not a search).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import kendalltau, rankdata, spearmanr  # noqa: E402
from torch import nn  # noqa: E402

from bench.space_table import TABLES, draw, key, load  # noqa: E402
from enas_core.config import Runtime  # noqa: E402
from enas_core.options import build_config  # noqa: E402
from enas_core.spaces import arch_from_json, build_network, network_config_for  # noqa: E402

PROXY_BATCH = 64


# -- the table ---------------------------------------------------------------------------------


def read_table(dataset: str, path: Path | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The table and its seed-0 rows (one per architecture), each with `seed1_test_acc` where
    the architecture was trained with seed 1 too."""
    table = json.loads((path or TABLES / f"{dataset}.json").read_text())
    second = {r["key"]: r["test_acc"] for r in table["rows"] if r["seed"] == 1}
    seeds: dict[str, list[float]] = {}
    for r in table["rows"]:
        seeds.setdefault(r["key"], []).append(r["test_acc"])
    rows = [r | {"seed1_test_acc": second.get(r["key"]),
                 "mean_test_acc": float(np.mean(seeds[r["key"]]))}
            for r in table["rows"] if r["seed"] == 0]
    if len(rows) < 5:
        sys.exit(f"the table has {len(rows)} architectures; build it first (space_table.py)")
    return table, rows


# -- training-free proxies ---------------------------------------------------------------------


def _network(arch_json: dict[str, Any], data: Any, seed: int) -> nn.Module:
    from enas_core import preset_config

    torch.manual_seed(seed)
    arch = arch_from_json(arch_json)
    model = network_config_for(arch, preset_config("demo").train.model)
    return build_network(arch, model, data.train.channels, data.train.num_classes)


def _batch(data: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from enas_core.data import DeviceLoader

    gen = torch.Generator().manual_seed(seed)
    loader = DeviceLoader(data.train, batch_size=PROXY_BATCH, device="cpu", mean=data.mean,
                          std=data.std, generator=gen)
    return loader.sample()


def naswot(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log|K|, K[i, j] = the number of ReLUs on which images i and j agree (Mellor et al.)."""
    codes: list[torch.Tensor] = []

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        codes.append((inputs[0].detach().flatten(1) > 0).float())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()  # batch statistics, as at initialisation in the paper's code
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    c = torch.cat(codes, 1)
    k = c @ c.t() + (1 - c) @ (1 - c).t()
    return float(torch.linalg.slogdet(k.double())[1])


def synflow(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """sum |theta * dR/dtheta| with R the output of all-ones input through |theta| (data-free)."""
    net = net.double().eval()  # BN at initialisation in eval mode is the identity
    signs = {}
    with torch.no_grad():
        for name, p in net.state_dict().items():
            signs[name] = torch.sign(p)
            p.abs_()
    net.zero_grad()
    out = net(torch.ones((1, *x.shape[1:]), dtype=torch.double))
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in net.parameters()
                if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def jacob_cov(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the correlation of the input
    Jacobians (Mellor et al. 2020)."""
    net.train()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()
    jac = x.grad.flatten(1).double().numpy()
    corr = np.corrcoef(jac)
    v = np.linalg.eigvalsh(np.nan_to_num(corr))
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


PROXIES = {"naswot": naswot, "synflow": synflow, "jacob_cov": jacob_cov}


def proxy_scores(name: str, rows: list[dict[str, Any]], data: Any, seed: int) -> list[float]:
    x, y = _batch(data, seed)
    return [PROXIES[name](_network(r["arch"], data, seed), x, y) for r in rows]


# -- shared weights ----------------------------------------------------------------------------


def shared_scores(archs: list[dict[str, Any]], data: Any, preset: str, options: dict[str, Any],
                  seed: int, device: str = "cpu") -> list[float]:
    searcher = _search(preset, options, data, seed, device)
    while searcher.epoch < searcher.config.epochs:
        searcher.run_epoch()
    return searcher.evaluate_many([arch_from_json(a) for a in archs])


def _search(preset: str, options: dict[str, Any], data: Any, seed: int, device: str) -> Any:
    from enas_core.search import Searcher

    config = build_config(options, preset=preset)
    search = replace(config.search, eval_batches=None)  # the whole validation split: less noise
    return Searcher(search, data, runtime=Runtime(device=device), seed=seed)


def _with_op(arch: Any, edge: int, op: int) -> Any:
    """`arch` with the conv cell's `edge`-th op (0: node 0's first input) set to `op`."""
    data = arch.to_json()
    conv = list(data["conv"])
    conv[2 * edge + 1] = op
    return arch_from_json({"space": data["space"], "nodes": data["nodes"], "conv": conv,
                           "reduce": data["reduce"]})


def few_shot_scores(arch_jsons: list[dict[str, Any]], data: Any, preset: str,
                    options: dict[str, Any], seed: int, *, split: bool,
                    device: str = "cpu") -> list[float]:
    """`oneshot` (split=False) or `fewshot` (split=True), at the same shared-weight steps: the
    preset's epochs of uniform draws, no controller; with the split, each of the second half's
    epochs is shared out among one copy of the weights per op of the conv cell's first edge."""
    from enas_core.runtime import cosine_lr, never
    from enas_core.spaces import get_space

    searcher = _search(preset, options | {"shared_sampling": "uniform"}, data, seed, device)
    cfg = searcher.config
    if cfg.model.space != "micro":
        sys.exit("fewshot splits the micro space's first edge")
    archs = [arch_from_json(a) for a in arch_jsons]
    ops = len(get_space("micro").op_modules())
    steps = cfg.steps_per_epoch or len(searcher.train_loader)
    split_at = cfg.epochs // 2 if split else cfg.epochs

    def epoch(e: int) -> None:
        searcher.epoch = e  # seeds the draws
        searcher.train_shared(cosine_lr(e, cfg.epochs, cfg.lr_max, cfg.lr_min), never)

    for e in range(split_at):
        epoch(e)
    if not split:
        return searcher.evaluate_many(archs)
    trunk = copy.deepcopy((searcher.model.state_dict(), searcher.w_opt.state_dict()))
    searcher.config = replace(cfg, steps_per_epoch=max(1, steps // ops))
    plain = searcher.uniform
    scores: dict[int, float] = {}
    for op in range(ops):
        searcher.model.load_state_dict(trunk[0])
        searcher.w_opt.load_state_dict(copy.deepcopy(trunk[1]))
        searcher.uniform = lambda purpose, op=op: (  # type: ignore[method-assign]
            lambda n: [_with_op(a, 0, op) for a in plain(f"{purpose}:{op}")(n)])
        for e in range(split_at, cfg.epochs):
            epoch(e)
        mine = [i for i, a in enumerate(archs) if a.to_json()["conv"][1] == op]
        for i, acc in zip(mine, searcher.evaluate_many([archs[i] for i in mine]), strict=True):
            scores[i] = acc
    return [scores[i] for i in range(len(archs))]


# -- scoring -----------------------------------------------------------------------------------


def score(signal: list[float], truth: list[float], *, boot: int = 1000,
          seed: int = 0) -> dict[str, Any]:
    """Against the architectures the signal has a value for (NaN: none)."""
    s, t = np.asarray(signal, dtype=float), np.asarray(truth, dtype=float)
    s, t = s[~np.isnan(s)], t[~np.isnan(s)]
    n = len(t)
    tau = float(kendalltau(s, t).statistic)
    rho = float(spearmanr(s, t).statistic)
    rng = np.random.default_rng(seed)
    taus, rhos = [], []
    for _ in range(boot):
        i = rng.integers(0, n, n)
        if np.ptp(s[i]) == 0 or np.ptp(t[i]) == 0:
            continue
        taus.append(kendalltau(s[i], t[i]).statistic)
        rhos.append(spearmanr(s[i], t[i]).statistic)
    top = max(1, round(n / 10))
    best_by_signal = set(np.argsort(-s, kind="stable")[:top].tolist())
    best_by_truth = set(np.argsort(-t, kind="stable")[:top].tolist())
    pick = int(np.argmax(s))
    pct = 100 * (rankdata(t) - 1) / max(n - 1, 1)  # each architecture's table percentile
    return {
        "architectures": n,
        "kendall_tau": tau, "kendall_tau_ci95": _interval(taus),
        "spearman": rho, "spearman_ci95": _interval(rhos),
        "top10_precision": len(best_by_signal & best_by_truth) / top,
        "pick_test_acc": float(t[pick]),
        "pick_percentile": float(pct[pick]),
        "table_best": float(t.max()), "table_median": float(np.median(t)),
        f"pick_of_{SELECT_K}": picks_of(s, t, pct, rng=rng),
    }


SELECT_K = 8  # the selection stage's default number of candidates


def picks_of(s: np.ndarray, t: np.ndarray, pct: np.ndarray, *, rng: np.random.Generator,
             k: int = SELECT_K, draws: int = 2000) -> dict[str, float] | None:
    """What a pick by this signal among `k` architectures drawn at random is worth, the way a
    tabular benchmark evaluates a search: the mean table percentile of the pick (50: a random
    pick) and its regret, the points of truth it leaves against the best of the `k`."""
    n = len(t)
    if n < k:
        return None
    pcts, regrets = [], []
    for _ in range(draws):
        idx = rng.choice(n, k, replace=False)
        pick = idx[int(np.argmax(s[idx]))]
        pcts.append(pct[pick])
        regrets.append(100 * (t[idx].max() - t[pick]))
    return {"k": k, "pick_percentile": float(np.mean(pcts)),
            "regret_points": float(np.mean(regrets))}


def ceiling(table: dict[str, Any], rows: list[dict[str, Any]], truth: str, *,
            sims: int = 2000, seed: int = 0) -> dict[str, Any] | None:
    """The Kendall tau a perfect signal would reach against this truth: architectures' true
    accuracies drawn with the spread the table shows less its noise, each observed through as
    many trainings as the truth averages (seed noise from the 2-seed pairs), tau averaged over
    `sims` draws. None until the table has seed pairs."""
    runs: dict[str, dict[int, float]] = {}
    for r in table["rows"]:
        runs.setdefault(r["key"], {})[r["seed"]] = r["test_acc"]
    pairs = [(s[0], s[1]) for s in runs.values() if 0 in s and 1 in s]
    if len(pairs) < 3:
        return None
    noise_var = float(np.mean([(a - b) ** 2 for a, b in pairs]) / 2)
    seed0 = [r["test_acc"] for r in rows]
    true_var = max(float(np.var(seed0, ddof=1)) - noise_var, 0.0)
    counts = np.array([len(runs[r["key"]]) if truth == "mean" else 1 for r in rows])
    rng = np.random.default_rng(seed)
    taus = [0.0] if true_var == 0 else []  # no spread beyond the noise: nothing to rank
    picks = [50.0] if true_var == 0 else []  # the percentile of a perfect pick of SELECT_K
    n = len(rows)
    for _ in range(sims if true_var > 0 else 0):
        true = rng.normal(0, math.sqrt(true_var), n)
        seen = true + rng.normal(0, 1, n) * np.sqrt(noise_var / counts)
        taus.append(kendalltau(true, seen).statistic)
        if n >= SELECT_K:
            idx = rng.choice(n, SELECT_K, replace=False)
            pick = idx[int(np.argmax(true[idx]))]
            picks.append(100 * (rankdata(seen)[pick] - 1) / (n - 1))
    return {"kendall_tau": float(np.mean(taus)), "kendall_tau_range90": _interval90(taus),
            f"pick_of_{SELECT_K}_percentile": float(np.mean(picks)) if picks else None,
            "seed_std": math.sqrt(noise_var), "true_architecture_std": math.sqrt(true_var)}


def _interval90(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 5)), float(np.percentile(values, 95))]


def _interval(values: list[float]) -> list[float] | None:
    vals = [v for v in values if not math.isnan(v)]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))] if vals else None


def parse_options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value
    return options


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("digits", "fashion-mnist"), default="digits")
    parser.add_argument("--signal", default="naswot,synflow,jacob_cov,epoch1,epoch2",
                        help="comma-separated; a+b averages ranks")
    parser.add_argument("--preset", default="demo", help="the search of the `shared` signal")
    parser.add_argument("--option", action="append", default=[],
                        help="name=value, a job option for the `shared` signal's search")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="of the searches (shared, fewshot)")
    parser.add_argument("--truth", choices=("mean", "seed0"), default="mean",
                        help="test accuracy: mean over the seeds trained, or seed 0's")
    parser.add_argument("--table", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--fresh", action="store_true",
                        help="search again even where an earlier run scored every architecture")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    table, rows = read_table(args.dataset, args.table)
    truth = [r["mean_test_acc" if args.truth == "mean" else "test_acc"] for r in rows]
    seed0 = [r["test_acc"] for r in rows]
    data = load(args.dataset, args.data_dir)
    options = parse_options(args.option)
    tail = "".join(f",{k}={v}" for k, v in sorted(options.items())) + f",{args.preset}"
    searched = ("shared", "oneshot", "fewshot")
    cache: dict[str, tuple[list[float], float]] = {}
    path = args.out or TABLES / f"ranking-{args.dataset}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    by_key: dict[str, dict[str, float]] = {}  # a search's score of each architecture

    def searched_signal(name: str) -> tuple[list[float], float]:
        """A search's scores of the table's architectures, and of the draws the table has not
        trained yet: rescoring against a table that has grown costs no search."""
        label = name + tail
        earlier = old.get("signals", {}).get(label, {})
        known = earlier.get("values_by_key", {})
        if not args.fresh and all(key(r["arch"]) in known for r in rows):
            by_key[label] = known
            return [known[key(r["arch"])] for r in rows], earlier["cpu_seconds"]
        t0 = time.process_time()
        targets = {key(a): a for a in [r["arch"] for r in rows]
                   + [a.to_json() for a in draw(table["archs"])]}
        if name == "shared":
            values = shared_scores(list(targets.values()), data, args.preset, options,
                                   args.seed, args.device)
        else:
            values = few_shot_scores(list(targets.values()), data, args.preset, options,
                                     args.seed, split=name == "fewshot", device=args.device)
        by_key[label] = dict(zip(targets, map(float, values), strict=True))
        return [by_key[label][key(r["arch"])] for r in rows], time.process_time() - t0

    def signal(name: str) -> tuple[list[float], float]:
        if name in searched and name not in cache:
            cache[name] = searched_signal(name)
        if name not in cache:
            t0 = time.process_time()
            if name in PROXIES:
                values = proxy_scores(name, rows, data, args.seed)
            elif name == "seed1":  # the noise ceiling: the same training, another seed
                values = [r["seed1_test_acc"] if r["seed1_test_acc"] is not None
                          else float("nan") for r in rows]
            elif name.startswith("epoch"):
                k = int(name[5:])
                values = [r["val_acc"][k - 1] for r in rows]
            elif name.startswith("train"):
                k = int(name[5:])
                values = [r["train_acc"][k - 1] for r in rows]
            elif name.startswith("sota"):
                k = int(name[4:])
                values = [sum(r["train_acc"][:k]) for r in rows]
            elif name in ("params", "flops"):
                values = [float(r[name]) for r in rows]
            elif name == "prior":  # fitted on the other tables only: none of these rows
                from bench.prior import DATASETS, fit, predict

                model = fit([read_table(d, None)[1] for d in DATASETS if d != args.dataset])
                values = predict(model, rows).tolist()
            else:
                sys.exit(f"unknown signal {name!r}")
            cache[name] = (values, time.process_time() - t0)
        return cache[name]

    results = {}
    print(f"ranking against {args.dataset}'s table: {len(rows)} architectures, protocol "
          f"{table['protocol']['epochs']} epochs; truth: {args.truth} test acc, best "
          f"{max(truth):.4f}, median "
          f"{float(np.median(truth)):.4f}")
    top = ceiling(table, rows, args.truth, seed=args.seed)
    if top:
        print(f"ceiling: a perfect signal would reach tau {top['kendall_tau']:+.2f} "
              f"(90 % of tables {top['kendall_tau_range90'][0]:+.2f} to "
              f"{top['kendall_tau_range90'][1]:+.2f}) against this truth: one training's seed "
              f"std {100 * top['seed_std']:.2f} points, architectures' own std "
              f"{100 * top['true_architecture_std']:.2f}")
    if top is not None:
        t = np.asarray(truth, dtype=float)
        top[f"oracle_pick_of_{SELECT_K}"] = picks_of(
            t, t, 100 * (rankdata(t) - 1) / max(len(t) - 1, 1),
            rng=np.random.default_rng(args.seed))
        oracle, perfect = top[f"oracle_pick_of_{SELECT_K}"], top[f"pick_of_{SELECT_K}_percentile"]
        if oracle and perfect is not None:
            print(f"pick of {SELECT_K} uniform draws: the table's own order picks at percentile "
                  f"{oracle['pick_percentile']:.0f} on average, a perfect signal (the "
                  f"architectures' expected accuracy) at {perfect:.0f} given the noise: no "
                  f"signal's pick from a uniform pool can be expected above it")
    print(f"{'signal':44s} {'tau':>6s} {'tau 95% CI':>15s} {'rho':>6s} {'top10%':>6s} "
          f"{'pick pct':>8s} {f'of {SELECT_K}: pct':>11s} {'regret':>6s} {'CPU s':>7s}")
    for spec in args.signal.split(","):
        parts = spec.split("+")
        got = [signal(p) for p in parts]
        if len(parts) == 1:
            values, cost = got[0]
        else:  # rank average
            values = list(np.mean([rankdata(v) for v, _ in got], axis=0))
            cost = sum(c for _, c in got)
        name = "+".join(p + tail if p in searched else p for p in parts)
        against = seed0 if parts == ["seed1"] else truth
        result = score(values, against, seed=args.seed) | {"cpu_seconds": cost,
                                                         "values": list(map(float, values))}
        if name in by_key:
            result["values_by_key"] = by_key[name]
        results[name] = result
        ci = result["kendall_tau_ci95"] or [float("nan")] * 2
        of_k, nan = result[f"pick_of_{SELECT_K}"] or {}, float("nan")
        print(f"{name:44s} {result['kendall_tau']:+6.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}] "
              f"{result['spearman']:+6.2f} {result['top10_precision']:6.2f} "
              f"{result['pick_percentile']:8.0f} {of_k.get('pick_percentile', nan):11.0f} "
              f"{of_k.get('regret_points', nan):6.2f} {cost:7.0f}", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {"dataset": args.dataset, "table_architectures": len(rows), "truth": args.truth,
           "ceiling": top, "signals": old.get("signals", {}) | results}
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
