import pytest
import torch
from scipy.stats import kendalltau

from enas_core.config import SelectConfig, replace
from enas_core.pipeline import run_job, select_epochs
from enas_core.selection import kendall_tau, pool, rounds, trust
from tests.enas_core.helpers import Interrupt, stable, tiny_run


@pytest.mark.parametrize(("candidates", "epochs", "plan"), [
    (8, 2, [(8, 1), (4, 2)]),
    (8, 4, [(8, 1), (4, 2), (2, 4)]),
    (8, 1, [(8, 1)]),
    (3, 4, [(3, 2), (2, 4)]),
    (2, 4, [(2, 4)]),
    (5, 3, [(5, 1), (3, 3)]),
])
def test_rounds_halve_the_candidates_and_double_the_epochs(candidates, epochs, plan):
    assert rounds(candidates, epochs) == plan


def test_kendall_tau_is_scipys_tau_b():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        a = torch.randint(0, 5, (9,), generator=gen).tolist()
        b = torch.randint(0, 5, (9,), generator=gen).tolist()
        expected = kendalltau(a, b).statistic
        got = kendall_tau(a, b)
        assert (got is None) if expected != expected else got == pytest.approx(expected)
    assert kendall_tau([1, 2, 3], [1, 2, 3]) == 1.0 and kendall_tau([1, 2, 3], [3, 2, 1]) == -1
    assert kendall_tau([1, 1, 1], [1, 2, 3]) is None
    assert [trust(t) for t in (0.8, 0.4, 0.1, None)] == ["high", "some", "none", "unknown"]


def test_pool_alternates_the_groups_without_repeats():
    a = [{"arch": {"n": i}, "val_acc": 0.9 - i / 100} for i in range(4)]
    b = [{"arch": {"n": i}, "val_acc": 0.8} for i in (0, 5, 6)]
    got = pool(a, b, 5)
    assert [(c["arch"]["n"], c["source"]) for c in got] == [
        (0, "search"), (5, "random"), (1, "search"), (6, "random"), (2, "search")]
    assert len(pool(a, [], 8)) == 4  # fewer distinct candidates than asked: all of them


def selecting(candidates=4, epochs=2):
    config = tiny_run(search_epochs=2, final_epochs=1)
    return replace(config, select=SelectConfig(candidates=candidates, epochs=epochs),
                   search=replace(config.search, num_candidates=4, top_k=4))


@pytest.mark.slow
def test_the_selection_stage_trains_the_pool_alone_and_picks_its_best(digits, tmp_path):
    seen = []
    config = selecting()
    result = run_job(config, digits, out_dir=tmp_path, on_epoch=seen.append)
    # 4 candidates for 1 epoch, the best 2 on to epoch 2: 6 steps, 6 epochs in all
    assert [(m.phase, m.epoch) for m in seen] == (
        [("search", 1), ("search", 2)] + [("select", k) for k in range(1, 7)] + [("final", 1)])
    assert select_epochs(config) == 6
    report = result.search_report["selection"]
    assert report["rounds"] == [{"candidates": 4, "epochs": 1}, {"candidates": 2, "epochs": 2}]
    assert report["epochs_trained"] == 6
    cands = report["candidates"]
    assert {c["source"] for c in cands} == {"search", "random"}
    first = [c["alone_val_acc"][0] for c in cands]
    went_on = [k for k, c in enumerate(cands) if len(c["alone_val_acc"]) == 2]
    assert sorted(went_on) == sorted(sorted(range(4), key=lambda k: -first[k])[:2])
    win = max(went_on, key=lambda k: cands[k]["alone_val_acc"][1])
    assert report["picked"] == win and cands[win]["picked"]
    # the final network is the selection's pick, and the trust figure is the tau of the pool
    assert result.best["arch"] == cands[win]["arch"]
    assert report["kendall_tau"] == pytest.approx(
        kendalltau([c["shared_val_acc"] for c in cands], first).statistic)
    assert report["summary"].startswith("the shared weights' ranking")
    progress = [m.progress for m in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert "select" in result.usage["phases"]


@pytest.mark.slow
def test_a_selection_cut_short_resumes_to_the_same_result(digits, tmp_path):
    config = selecting(candidates=3, epochs=2)
    full = run_job(config, digits, out_dir=tmp_path / "full")
    checkpoints = []

    def crash(metrics):
        checkpoints.append(metrics.checkpoint)
        if (metrics.phase, metrics.epoch) == ("select", 2):
            raise Interrupt

    with pytest.raises(Interrupt):
        run_job(config, digits, out_dir=tmp_path / "cut", on_epoch=crash)
    resumed = run_job(config, digits, out_dir=tmp_path / "cut", resume_from=checkpoints[-1])
    assert resumed.best == full.best
    assert stable(resumed.history) == stable(full.history)
    assert resumed.final["test_acc"] == full.final["test_acc"]
