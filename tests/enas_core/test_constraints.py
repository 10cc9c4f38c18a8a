"""Searching under limits: validation, reward shaping, hard and soft limits end to end."""

import json
import random
import re
import statistics
from dataclasses import replace

import pytest
import torch

from enas_core import costs, latency
from enas_core.cli import main
from enas_core.config import ConstraintConfig, ControllerConfig, RunConfig, from_dict
from enas_core.constraints import (
    check_possible,
    feasible,
    pareto_front,
    score,
    shaped_reward,
)
from enas_core.costs import CostModel, Costs
from enas_core.latency import LatencyTable, table_keys
from enas_core.metrics import measure_params
from enas_core.pipeline import run_job
from enas_core.reinforce import Reinforce
from enas_core.search import Searcher
from enas_core.spaces import (
    arch_from_json,
    arch_from_summary,
    build_network,
    random_architecture,
)
from enas_core.spaces.micro.controller import MicroController
from tests.enas_core.helpers import TINY, tiny_run

FINAL = tiny_run().train.model  # the network the limits apply to
SHAPE = (1, 28, 28)


@pytest.fixture(autouse=True)
def latency_cache(tmp_path_factory, monkeypatch):
    """One latency-table cache for the session, not the user's."""
    monkeypatch.setenv("ENAS_LATENCY_CACHE", str(tmp_path_factory.getbasetemp() / "latency"))


def with_limits(config: RunConfig, **limits) -> RunConfig:
    return replace(config, search=replace(config.search, constraints=ConstraintConfig(**limits)))


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_params": 0}, "max_params must be a positive number"),
        ({"max_flops": -5}, "max_flops must be a positive number"),
        ({"max_latency_ms": float("inf")}, "max_latency_ms must be a positive number"),
        ({"max_memory_mb": "10"}, "max_memory_mb must be a positive number"),
        ({"max_params": True}, "max_params must be a positive number"),
        ({"latency_device": "tpu"}, "unknown latency device 'tpu'"),
        ({"mode": "strict"}, "must be 'hard' or 'soft'"),
        ({"modes": {"latency": "soft"}}, "unknown limit(s) ['latency']"),
        ({"weight": 0.07}, "weight must be a negative number"),
        ({"latency_batch_size": 0}, "latency_batch_size must be a positive integer"),
        ({"soft_penalty": "under"}, "soft_penalty must be 'always' or 'over'"),
    ],
)
def test_bad_limits_are_clear_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ConstraintConfig(**kwargs)


def test_constraints_round_trip_through_the_job_config():
    config = with_limits(tiny_run(), max_params=5000, max_latency_ms=2.5,
                         modes={"latency_ms": "soft"}, latency_device="cuda:1")
    blob = json.loads(json.dumps(config.search.constraints.__dict__))
    again = from_dict(RunConfig, {"search": {"constraints": blob}})
    assert again.search.constraints == config.search.constraints
    assert again.search.constraints.limits() == {"params": 5000, "latency_ms": 2.5}
    assert again.search.constraints.mode_of("latency_ms") == "soft"
    assert again.search.constraints.mode_of("params") == "hard"
    assert not RunConfig().search.constraints.active  # the default: no limits


# -- reward shaping and the front ---------------------------------------------------------------


def test_soft_reward_is_mnasnet_and_hard_violations_rank_below_every_fit():
    soft = ConstraintConfig(max_latency_ms=10.0, mode="soft", weight=-0.07)
    over = replace(soft, soft_penalty="over")
    at = {"params": 1, "flops": 1, "latency_ms": 20.0}
    under = {"params": 1, "flops": 1, "latency_ms": 5.0}
    assert shaped_reward(soft, 0.9, at) == pytest.approx(0.9 * 2.0 ** -0.07)
    assert shaped_reward(soft, 0.9, under) == pytest.approx(0.9 * 0.5 ** -0.07)  # a bonus
    assert shaped_reward(over, 0.9, under) == pytest.approx(0.9)  # no bonus under the limit
    assert shaped_reward(over, 0.9, at) == pytest.approx(0.9 * 2.0 ** -0.07)
    assert feasible(soft, at)  # soft limits never make an architecture infeasible

    hard = ConstraintConfig(max_params=100)
    fits = shaped_reward(hard, 0.0, {"params": 100, "flops": 1})
    slightly = shaped_reward(hard, 1.0, {"params": 101, "flops": 1})
    far = shaped_reward(hard, 1.0, {"params": 10_000, "flops": 1})
    assert far < slightly < fits == 0.0
    assert score(hard, 0.7, {"params": 50, "flops": 1}) == 0.7


def test_pareto_front_keeps_only_undominated_points():
    points = [
        {"name": "a", "val_acc": 0.9, "params": 100, "latency_ms": 5.0},
        {"name": "b", "val_acc": 0.8, "params": 50, "latency_ms": 5.0},
        {"name": "c", "val_acc": 0.8, "params": 120, "latency_ms": 6.0},  # dominated by a
        {"name": "d", "val_acc": 0.7, "params": 60, "latency_ms": 1.0},
        {"name": "e", "val_acc": 0.7, "params": 60, "latency_ms": 1.0},  # a duplicate of d
        {"name": "f", "val_acc": 0.95, "params": 100, "latency_ms": None},  # no latency
    ]
    assert [p["name"] for p in pareto_front(points)] == ["a", "b", "d"]


def test_an_impossible_params_or_flops_limit_fails_before_searching(digits, tmp_path):
    cheapest = CostModel(FINAL, SHAPE, 10)(costs.smallest_architecture("micro", FINAL.nodes))
    with pytest.raises(ValueError, match=f"has {cheapest.params:,} parameters"):
        check_possible(ConstraintConfig(max_params=cheapest.params - 1), FINAL, SHAPE, 10)
    check_possible(ConstraintConfig(max_params=cheapest.params), FINAL, SHAPE, 10)
    check_possible(ConstraintConfig(max_params=10, mode="soft"), FINAL, SHAPE, 10)
    with pytest.raises(ValueError, match="max_flops=1,000 cannot be met"):
        run_job(with_limits(tiny_run(), max_flops=1000), digits, out_dir=tmp_path)
    assert not (tmp_path / "result.json").exists()


# -- hard limits end to end ---------------------------------------------------------------------


@pytest.mark.slow
def test_with_a_tight_max_params_every_returned_architecture_fits(digits, tmp_path):
    price = CostModel(FINAL, SHAPE, 10)
    rng = random.Random(0)
    spread = sorted(price(random_architecture(FINAL, rng)).params for _ in range(200))
    limit = spread[len(spread) // 10]  # only one random architecture in ten fits
    result = run_job(with_limits(tiny_run(search_epochs=2), max_params=limit), digits,
                     out_dir=tmp_path)

    assert result.constraints["satisfied"] and result.constraints["message"] is None
    assert result.best is not None and result.best == result.top_k[0]
    for cand in result.top_k:
        arch = arch_from_json(cand["arch"])
        built = build_network(arch, FINAL, 1, 10)
        assert measure_params(built) == cand["costs"]["params"] <= limit
        assert cand["feasible"]
    for point in result.pareto["front"]:
        assert point["params"] <= limit and point["latency_ms"] > 0
    # The search shaped its rewards: a sample over the limit earned less than any that fit.
    sampled = [s for row in result.history if row["phase"] == "search" for s in row["sampled"]]
    fits = [s["reward"] for s in sampled if s["feasible"]]
    over = [s["reward"] for s in sampled if not s["feasible"]]
    assert all(s["params"] <= limit for s in sampled if s["feasible"])
    assert not fits or not over or max(over) < min(fits)
    # The trained model: measured params next to the limit, met.
    report = {c["name"]: c for c in result.final["constraints"]}
    assert report["params"]["met"] and report["params"]["value"] <= limit
    assert result.final["constraints_met"] and result.final["memory_mb"] > 0
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["constraints"]["limits"] == {"max_params": limit}
    assert saved["pareto"]["front"]


@pytest.mark.slow
def test_an_impossible_latency_limit_says_so_instead_of_returning_a_violator(digits, tmp_path,
                                                                             capsys):
    out = tmp_path / "run"
    code = main(["search", *TINY, "--search-epochs", "1", "--final-epochs", "1",
                 "--max-latency-ms", "0.0001", "--max-params", "100000", "--output", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "no architecture satisfies the hard limits (max_params=100,000, max_latency_ms=0.0001)" \
        in err and "the closest has" in err
    result = json.loads((out / "result.json").read_text())
    assert result["best"] is None and result["top_k"] == [] and result["final"] is None
    assert result["constraints"]["satisfied"] is False
    assert result["constraints"]["message"] in err
    assert not (out / "model.pt").exists()
    # The front still shows what the search reached, every point marked as breaking a limit.
    front = result["pareto"]["front"]
    assert front and all(point["feasible"] is False for point in front)


@pytest.mark.parametrize(("argv", "message"), [
    (["--latency-device", "tpu"], "--latency-device: must be one of cpu, cuda; got 'tpu'"),
    (["--max-params", "-3"], "--max-params: must be greater than 0, got -3"),
])
def test_cli_rejects_bad_limits(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", *TINY, *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


# -- soft latency ---------------------------------------------------------------------------------


def search_latencies(digits, constraints: ConstraintConfig, monkeypatch) -> list[list[float]]:
    """Predicted latency of every sampled architecture, per controller step, of a short search
    (seed and data fixed). The latency table is fixed (`fixed_latency_table`), so the result
    does not depend on timings taken on a busy machine."""
    monkeypatch.setattr(latency, "latency_table", lambda model, shape, classes, **_:
                        fixed_latency_table(model, shape, classes))
    config = tiny_run(search_epochs=3)
    search = replace(config.search, constraints=constraints, steps_per_epoch=2, eval_batch_size=32,
                     controller=replace(config.search.controller, train_steps=8, num_aggregate=5,
                                        lr=0.05))
    searcher = Searcher(search, digits, seed=1, target=config.train.model)
    steps = []
    for _ in range(search.epochs):
        sampled = searcher.run_epoch().sampled
        lat = [searcher.cost_model.latency_ms(arch_from_summary(s)) for s in sampled]
        steps += [lat[i:i + 5] for i in range(0, len(lat), 5)]
    return steps


@pytest.mark.slow
def test_a_soft_latency_limit_lowers_the_sampled_latency(digits, monkeypatch):
    free = search_latencies(digits, ConstraintConfig(), monkeypatch)
    table_mean = statistics.mean(x for step in free for x in step)
    # MnasNet's -0.07 is meant for thousands of controller steps; a strong weight makes the
    # pull clear in the 24 steps a test can afford.
    soft = search_latencies(digits, ConstraintConfig(max_latency_ms=0.9 * table_mean,
                                                     mode="soft", weight=-4.0), monkeypatch)
    assert soft[0] == free[0]  # same seed and data: the same first samples
    last = slice(-8, None)  # the last epoch
    soft_last = statistics.mean(x for step in soft[last] for x in step)
    free_last = statistics.mean(x for step in free[last] for x in step)
    first = statistics.mean(soft[0])
    assert soft_last < free_last and soft_last < first, (soft_last, free_last, first)


def test_a_controller_rewarded_by_latency_alone_learns_lower_latency():
    """The cost signal without the accuracy noise: constant accuracy, a soft latency limit.
    The latency table is fixed (each piece costs its multiply-adds), so the test does not
    depend on timings taken on a busy machine."""
    table = fixed_latency_table(FINAL, SHAPE, 10)
    price = CostModel(FINAL, SHAPE, 10, latency_factory=lambda arch: table)
    cons = ConstraintConfig(max_latency_ms=1.0, mode="soft", weight=-2.0)
    ctrl_cfg = ControllerConfig(lr=0.05, num_aggregate=10)
    torch.manual_seed(0)
    controller = MicroController(FINAL.nodes, ctrl_cfg)
    reinforce = Reinforce(controller, ctrl_cfg)
    gen = torch.Generator().manual_seed(0)
    means = []
    for _ in range(40):
        samples = controller(10, gen)
        lat = [price(a, latency=True) for a in samples.archs]
        reward = torch.tensor([shaped_reward(cons, 1.0, c) for c in lat])
        reinforce.step(samples, reward)
        means.append(statistics.mean(c.latency_ms for c in lat))
    assert statistics.mean(means[-10:]) < statistics.mean(means[:10]), means


def fixed_latency_table(model, shape, num_classes) -> LatencyTable:
    """Every table key priced at its multiply-adds (1 ms per MMAC), from random networks."""
    rng = random.Random(0)
    entries = {}
    for _ in range(50):
        arch = random_architecture(model, rng)
        for op in costs.network_ops(arch, model, shape, num_classes):
            entries[op.key] = op.macs / 1e6
    for key in table_keys(model, shape, num_classes):
        entries.setdefault(key, 0.0)
    return LatencyTable(meta={}, entries=entries)


def test_costs_to_dict_names_every_limit():
    assert set(Costs(1, 2, 3.0, 4.0).to_dict()) == {"params", "flops", "latency_ms", "memory_mb"}
