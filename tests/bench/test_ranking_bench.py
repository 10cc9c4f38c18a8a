"""bench/ranking.py's arithmetic (scores, the ceiling a noisy table allows) and its few-shot
signal on the bundled digits with a tiny budget."""

from __future__ import annotations

import numpy as np
import pytest

from bench.ranking import _with_op, ceiling, few_shot_scores, picks_of, score
from bench.space_table import draw


def _table(archs: int, spread: float, noise: float) -> tuple[dict, list[dict]]:
    """A table of `archs` architectures, each trained with seeds 0 and 1: true accuracies
    `spread` apart (std), each training off by `noise` (std)."""
    rng = np.random.default_rng(1)
    true = 0.86 + rng.normal(0, spread, archs)
    rows = [{"key": f"a{i}", "seed": s, "test_acc": float(t + rng.normal(0, noise))}
            for i, t in enumerate(true) for s in (0, 1)]
    seed0 = [r for r in rows if r["seed"] == 0]
    return {"rows": rows}, seed0


def test_ceiling_follows_the_tables_noise() -> None:
    quiet = ceiling(*_table(40, 0.01, 0.0), "mean", sims=200)
    noisy = ceiling(*_table(200, 0.0, 0.01), "mean", sims=50)
    mid = ceiling(*_table(40, 0.005, 0.004), "mean", sims=200)
    single = ceiling(*_table(40, 0.005, 0.004), "seed0", sims=200)

    assert quiet is not None and quiet["kendall_tau"] > 0.99
    assert noisy is not None and noisy["kendall_tau"] < 0.2
    assert mid is not None and single is not None
    assert 0.3 < single["kendall_tau"] < mid["kendall_tau"] < 0.9  # two seeds beat one
    assert mid["seed_std"] == pytest.approx(0.004, rel=0.3)
    # a perfect pick of 8 of 40: the best of 8 uniform draws, percentile (8 * 41 / 9 - 1) / 39
    assert quiet["pick_of_8_percentile"] == pytest.approx(90.9, abs=2)
    assert noisy["pick_of_8_percentile"] < mid["pick_of_8_percentile"] < 90


def test_ceiling_needs_seed_pairs() -> None:
    table = {"rows": [{"key": f"a{i}", "seed": 0, "test_acc": 0.8 + i / 100}
                      for i in range(10)]}
    assert ceiling(table, table["rows"], "mean") is None


def test_score_of_a_perfect_and_a_reversed_signal() -> None:
    truth = [0.80 + i / 100 for i in range(20)]
    right = score(truth, truth, boot=50)
    wrong = score(truth[::-1], truth, boot=50)

    assert right["kendall_tau"] == pytest.approx(1.0)
    assert right["pick_percentile"] == 100 and right["top10_precision"] == 1.0
    assert wrong["kendall_tau"] == pytest.approx(-1.0)
    assert wrong["pick_percentile"] == 0 and wrong["top10_precision"] == 0.0


def test_a_perfect_pick_of_8_sits_at_the_best_of_8_uniform_draws() -> None:
    # the expected top rank of 8 of 60 without replacement is 8 * 61 / 9: the 90th percentile
    t = np.linspace(0.80, 0.90, 60)
    pct = 100 * np.arange(60) / 59
    rng = np.random.default_rng(0)
    perfect = picks_of(t, t, pct, rng=rng, draws=4000)
    reversed_ = picks_of(-t, t, pct, rng=rng, draws=4000)

    assert perfect["pick_percentile"] == pytest.approx(100 * (8 * 61 / 9 - 1) / 59, abs=0.6)
    assert perfect["regret_points"] == 0
    assert reversed_["pick_percentile"] == pytest.approx(100 - perfect["pick_percentile"],
                                                         abs=0.8)
    assert picks_of(t[:5], t[:5], pct[:5], rng=rng) is None  # fewer than 8 to draw from


def test_with_op_sets_the_first_edges_op_only() -> None:
    arch = draw(1)[0]
    before = arch.to_json()
    for op in range(5):
        after = _with_op(arch, 0, op).to_json()
        assert after["conv"][1] == op
        assert after["conv"][:1] + after["conv"][2:] == before["conv"][:1] + before["conv"][2:]
        assert after["reduce"] == before["reduce"]


@pytest.mark.slow(cpu_s=25)
def test_few_shot_scores_every_architecture_on_its_ops_copy(monkeypatch) -> None:
    from enas_core import prepare_data
    from enas_core.search import Searcher

    asked: list[set[int]] = []  # the first-edge ops of each evaluation's architectures
    evaluate_many = Searcher.evaluate_many

    def spy(self, archs, *args, **kwargs):  # noqa: ANN001, ANN202
        asked.append({a.to_json()["conv"][1] for a in archs})
        return evaluate_many(self, archs, *args, **kwargs)

    monkeypatch.setattr(Searcher, "evaluate_many", spy)
    data = prepare_data("digits", seed=0)
    archs = [a.to_json() for a in draw(12)]
    options = {"search_epochs": 2, "steps_per_epoch": 5}
    one = few_shot_scores(archs, data, "demo", options, 0, split=False)
    few = few_shot_scores(archs, data, "demo", options, 0, split=True)

    assert len(one) == len(few) == len(archs)
    assert all(0.0 <= v <= 1.0 for v in one + few)
    assert one != few  # the second epoch went to the copies
    ops = {a["conv"][1] for a in archs}
    assert asked[0] == ops  # oneshot: all on one set of weights
    assert all(len(group) <= 1 for group in asked[1:])  # fewshot: each op on its own copy
    assert set().union(*asked[1:]) == ops
