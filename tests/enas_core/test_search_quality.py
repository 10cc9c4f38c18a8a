"""Search quality as a measured property: the random control and its report, random search as
a strategy, a random baseline trained with the same budget, and the shared-weight modes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from enas_core.config import ConstraintConfig, ModelConfig
from enas_core.metrics import measure_params
from enas_core.pipeline import run_job
from enas_core.report import bootstrap_difference, group_summary, search_report, verdict
from enas_core.search import SAMPLE_CHUNK, Searcher
from enas_core.spaces import arch_from_json, build_network
from enas_core.spaces.micro.search_model import MicroSearchNetwork
from tests.enas_core.helpers import count_draws, stable, tiny_run


def test_bootstrap_interval_brackets_a_known_difference():
    a = [0.9, 0.92, 0.88, 0.91, 0.93, 0.9, 0.89, 0.92]
    b = [0.8, 0.82, 0.79, 0.81, 0.83, 0.8, 0.78, 0.82]
    diff, lo, hi = bootstrap_difference(a, b, seed=0)
    assert diff == pytest.approx(sum(a) / 8 - sum(b) / 8)
    assert 0 < lo < diff < hi
    assert verdict(lo, hi) == "controller better"
    # Two draws of the same values: the interval contains zero.
    _, lo, hi = bootstrap_difference(a, list(reversed(a)), seed=0)
    assert lo < 0 < hi and verdict(lo, hi) == "no clear difference"
    assert verdict(*bootstrap_difference(b, a)[1:]) == "random better"


def test_a_group_counts_every_draw_and_lists_distinct_architectures(digits):
    arch = tiny_run().search.model
    import random

    from enas_core.spaces import random_architecture

    rng = random.Random(0)
    x, y = random_architecture(arch, rng), random_architecture(arch, rng)
    group = group_summary([(x, 0.5), (x, 0.5), (y, 0.7)], top_k=5)
    assert group["n"] == 3 and group["distinct"] == 2
    assert group["mean"] == pytest.approx(0.5667, abs=1e-4) and group["best"] == 0.7
    assert [t["val_acc"] for t in group["top"]] == [0.7, 0.5]
    report = search_report("random", None, [(x, 0.5)], top_k=5)
    assert report["controller"] is None and report["difference"] is None


@pytest.mark.slow
def test_every_search_ranks_a_random_control_on_the_same_data(digits):
    config = tiny_run(search_epochs=1).search
    searcher = Searcher(config, digits, seed=0)
    searcher.run_epoch()
    top = searcher.derive()
    report = searcher.report
    n = config.num_candidates
    assert report["strategy"] == "enas"
    assert report["controller"]["n"] == n and report["random"]["n"] == n
    lo, hi = report["difference"]["ci95"]
    assert lo <= report["difference"]["mean"] <= hi
    assert report["summary"].endswith("(95% bootstrap interval)")
    # The groups were ranked with the same weights on the same data: re-evaluating one of the
    # random ones gives its reported accuracy.
    first = report["random"]["top"][0]
    assert searcher.evaluate(arch_from_json(first["arch"])) == first["val_acc"]
    # The random control is not part of the search's own choice (the Pareto front).
    chosen = {json.dumps(c.arch.to_json()) for c in top}
    assert len(searcher.evaluated) >= len(chosen)
    assert searcher.random_best is not None
    assert searcher.random_best.val_acc == report["random"]["best"]
    assert report["entropy"]["first"] == searcher.history[0]["entropy"]


def test_random_search_samples_uniformly_and_never_trains_the_controller(digits):
    config = replace(tiny_run(search_epochs=1).search, strategy="random")
    searcher = Searcher(config, digits, seed=0)
    before = {k: v.clone() for k, v in searcher.controller.state_dict().items()}
    metrics = searcher.run_epoch()
    searcher.derive()
    for key, value in searcher.controller.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert metrics.entropy is None and metrics.controller_loss is None
    assert len(metrics.sampled) == config.controller.train_steps * config.controller.num_aggregate
    assert searcher.best is not None
    report = searcher.report
    assert report["strategy"] == "random" and report["controller"] is None
    assert report["random"]["n"] == config.num_candidates and report["verdict"] is None


@pytest.mark.slow
def test_random_search_resumes_exactly(digits, tmp_path):
    config = replace(tiny_run(search_epochs=2, final_epochs=0), search=replace(
        tiny_run().search, epochs=2, strategy="random"))
    full = run_job(config, digits, out_dir=tmp_path / "full")
    paths = []
    with pytest.raises(KeyError):
        run_job(config, digits, out_dir=tmp_path / "cut",
                on_epoch=lambda m: paths.append(m.checkpoint) or (_ for _ in ()).throw(KeyError))
    resumed = run_job(config, digits, out_dir=tmp_path / "cut", resume_from=paths[0])
    assert stable(resumed.history) == stable(full.history)
    assert resumed.search_report == full.search_report


@pytest.mark.slow
def test_a_random_baseline_is_trained_with_the_same_budget(digits, tmp_path):
    config = replace(tiny_run(search_epochs=1, final_epochs=2), baseline="random")
    phases = []
    result = run_job(config, digits, out_dir=tmp_path,
                     on_phase=lambda phase, **where: phases.append((phase, where["epochs"])))
    # Each phase is announced when it starts (and the search again as its epochs progress).
    starts = [p for i, (p, _) in enumerate(phases) if i == 0 or phases[i - 1][0] != p]
    assert starts == ["preparing", "search", "final", "baseline"]
    assert dict(phases)["final"] == dict(phases)["baseline"] == 2
    baseline = result.baseline
    assert baseline is not None
    assert baseline["arch"] == result.search_report["random"]["top"][0]["arch"]
    assert 0 <= baseline["final"]["test_acc"] <= 1
    arch = arch_from_json(baseline["arch"])
    model = build_network(arch, config.train.model, 1, 10)
    assert baseline["final"]["params"] == measure_params(model)
    rows = [(h["phase"], h["epoch"]) for h in result.history]
    assert rows[-4:] == [("final", 1), ("final", 2), ("baseline", 1), ("baseline", 2)]
    assert result.history[-1]["progress"] == pytest.approx(1.0)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["baseline"]["final"]["test_acc"] == baseline["final"]["test_acc"]
    assert (tmp_path / "baseline-model.pt").is_file()


@pytest.mark.slow
def test_a_job_interrupted_in_its_baseline_resumes_there(digits, tmp_path):
    config = replace(tiny_run(search_epochs=1, final_epochs=2), baseline="random")
    full = run_job(config, digits, out_dir=tmp_path / "full")
    paths = []

    def crash(metrics):
        paths.append(metrics.checkpoint)
        if metrics.phase == "baseline":
            raise KeyError

    with pytest.raises(KeyError):
        run_job(config, digits, out_dir=tmp_path / "cut", on_epoch=crash)
    resumed = run_job(config, digits, out_dir=tmp_path / "cut", resume_from=paths[-1])
    assert resumed.final["test_acc"] == full.final["test_acc"]
    assert resumed.baseline["final"]["test_acc"] == full.baseline["final"]["test_acc"]
    assert stable(resumed.history) == stable(full.history)


@pytest.mark.slow
def test_under_hard_limits_the_random_control_is_drawn_among_those_that_meet_them(digits):
    base = tiny_run(search_epochs=1).search
    from enas_core.costs import CostModel

    price = CostModel(base.model, (1, 28, 28), 10)
    import random

    from enas_core.spaces import random_architecture

    rng = random.Random(0)
    spread = sorted(price(random_architecture(base.model, rng)).params for _ in range(100))
    limit = spread[len(spread) // 2]
    config = replace(base, constraints=ConstraintConfig(max_params=limit))
    searcher = Searcher(config, digits, seed=0)
    searcher.run_epoch()
    searcher.derive()
    for cand in searcher.report["random"]["top"]:
        assert price(arch_from_json(cand["arch"])).params <= limit
    assert searcher.random_best.feasible


def test_training_steps_draw_architectures_in_chunks(digits, monkeypatch):
    config = replace(tiny_run().search, steps_per_epoch=SAMPLE_CHUNK + 3, batch_size=8)
    searcher = Searcher(config, digits, seed=0)
    asked = count_draws(searcher, monkeypatch)
    searcher.train_shared(0.01, lambda: False)
    assert asked == [SAMPLE_CHUNK, 3]


def test_uniform_shared_sampling_trains_the_weights_random_search_trains(digits, monkeypatch):
    """With shared_sampling=uniform the controller draws nothing for the shared weights, which
    end exactly as random search's (same seed, same draws); the controller still learns."""
    config = replace(tiny_run(search_epochs=1).search, steps_per_epoch=6, batch_size=8)
    enas = Searcher(replace(config, shared_sampling="uniform"), digits, seed=3)
    rand = Searcher(replace(config, strategy="random"), digits, seed=3)
    asked = count_draws(enas, monkeypatch, train=True)
    enas.train_shared(0.05, lambda: False)
    rand.train_shared(0.05, lambda: False)
    assert asked == []
    for (name, a), b in zip(enas.model.state_dict().items(), rand.model.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    before = {k: v.clone() for k, v in enas.controller.state_dict().items()}
    enas.train_controller(lambda: False)
    assert any(not torch.equal(v, before[k]) for k, v in enas.controller.state_dict().items())


@pytest.mark.parametrize("sharing", ["edge", "node", "cell"])
def test_sharing_modes_run_any_architecture(sharing, digits):
    model = ModelConfig(layers=3, channels=8, nodes=3, sharing=sharing)
    net = MicroSearchNetwork(model, 1, 10)
    searcher_cfg = replace(tiny_run().search, model=model)
    searcher = Searcher(searcher_cfg, digits, seed=0)
    for arch in searcher.controller.sample(4):
        assert net(torch.zeros(2, 1, 28, 28), arch).shape == (2, 10)
    clone = MicroSearchNetwork(model, 1, 10)
    clone.load_state_dict(net.state_dict())
    for a, b in zip(net.parameters(), clone.parameters(), strict=True):
        assert torch.equal(a, b)


def test_coarser_sharing_means_fewer_shared_weights():
    counts = {s: measure_params(MicroSearchNetwork(
        ModelConfig(layers=3, channels=8, nodes=5, sharing=s), 1, 10))
        for s in ("edge", "node", "cell")}
    assert counts["edge"] > 2 * counts["node"] > 2 * counts["cell"]
    # "cell": every edge of a cell runs one set of op weights (per stride).
    net = MicroSearchNetwork(ModelConfig(layers=3, channels=8, nodes=5, sharing="cell"), 1, 10)
    normal = net.cells[0]
    assert all(edge is normal.edges[0][0] for node in normal.edges for edge in node)
    reduce = net.cells[1]
    assert reduce.edges[0][0] is reduce.edges[4][1] and reduce.edges[0][0] is not \
        reduce.edges[1][2]
