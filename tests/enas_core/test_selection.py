import random
import subprocess
import sys

import pytest
import torch
from scipy.stats import kendalltau, rankdata

from enas_core.config import ModelConfig, SelectConfig, replace
from enas_core.pipeline import run_job, select_epochs
from enas_core.selection import Selection, kendall_tau, pool, rounds, trust
from enas_core.spaces import arch_from_json, prior_score, random_architecture
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


def rule(cands, r):
    """The stage's order of round r's candidates, from its report: the mean of each one's
    ranks in val_acc and train_acc alone (no soft limits), ties by shared-weight val_acc."""
    entrants = [k for k, c in enumerate(cands) if len(c["alone_val_acc"]) > r]
    val = rankdata([cands[k]["alone_val_acc"][r] for k in entrants])
    fit = rankdata([cands[k]["alone_train_acc"][r] for k in entrants])
    score = {k: (v + f) / 2 for k, v, f in zip(entrants, val, fit, strict=True)}
    return sorted(entrants, key=lambda k: (-score[k], -cands[k]["shared_val_acc"], k))


def test_a_round_ranks_by_validation_and_training_accuracy_together():
    # c0 validates best, c1 trains best and validates second: mean ranks c1 3.5, c0 3, c2
    # 2.5, c3 1
    cands = [{"arch": {"n": k}, "val_acc": 0.5 + k / 100, "score": 0.5 + k / 100}
             for k in range(4)]
    selection = Selection(cands, replace(tiny_run(), select=SelectConfig(candidates=4,
                                                                         epochs=1)), None)
    selection.alone = [[0.95], [0.93], [0.90], [0.80]]
    selection.fit = [[0.70], [0.85], [0.80], [0.60]]
    selection.step = selection.steps
    assert selection._ranked(0) == [1, 0, 2, 3]
    assert selection.picked() == 1
    # a candidate over a soft limit (score below its val_acc) is marked down on both; c0 and
    # c2 then tie (3.5 each) and the better shared-weight score, c2's, goes first
    cands[1]["score"] = 0.3
    assert selection._ranked(0) == [2, 0, 3, 1]


def test_a_checkpoint_without_training_accuracy_ranks_by_validation_alone():
    cands = [{"arch": {"n": k}, "val_acc": 0.5, "score": 0.5} for k in range(3)]
    config = replace(tiny_run(), select=SelectConfig(candidates=3, epochs=1))
    selection = Selection(cands, config, None)
    selection.load_state_dict({"step": 3, "alone": [[0.7], [0.9], [0.8]], "states": {},
                               "epochs_trained": 3, "seconds": 1.0, "history": []})
    assert selection.fit == selection.alone == [[0.7], [0.9], [0.8]]
    assert selection._ranked(0) == [1, 2, 0]


def _archs(n, nodes=5, space="micro"):
    rng = random.Random(1)
    model = ModelConfig(space=space, nodes=nodes, layers=4 if space == "macro" else 3)
    return [random_architecture(model, rng).to_json() for _ in range(n)]


def test_pool_alternates_the_groups_best_by_the_prior_without_repeats():
    archs = _archs(7)
    prior = {str(a): prior_score(arch_from_json(a)) for a in archs}
    # listed in shared-score order, as the search ranks them; archs[0] in both groups
    a = [{"arch": archs[i], "val_acc": 0.9 - i / 100} for i in range(4)]
    b = [{"arch": archs[i], "val_acc": 0.8} for i in (0, 5, 6)]
    # the prior's order is not the shared-weight order, or the test could not tell them apart
    assert sorted(range(4), key=lambda i: -prior[str(archs[i])]) != list(range(4))
    got = pool(a, b, 5)
    assert [c["source"] for c in got] == ["search", "random", "search", "random", "search"]
    assert len({str(c["arch"]) for c in got}) == 5
    assert [c["prior"] for c in got] == [prior[str(c["arch"])] for c in got]
    searched = [c["prior"] for c in got if c["source"] == "search"]
    assert searched == sorted((prior[str(x["arch"])] for x in a), reverse=True)[:3]
    drawn = [c["arch"] for c in got if c["source"] == "random"]
    best_b = sorted(b, key=lambda x: -prior[str(x["arch"])])
    assert drawn == [x["arch"] for x in best_b if x["arch"] not in [c["arch"] for c in got
                                                                    if c["source"] == "search"]][:2]
    assert len(pool(a, [], 8)) == 4  # fewer distinct candidates than asked: all of them


def test_the_pool_takes_candidates_within_the_soft_limits_first():
    archs = sorted(_archs(4), key=lambda a: -prior_score(arch_from_json(a)))
    # the prior's best is over a soft limit (its score marked down from its val_acc)
    cands = [{"arch": a, "val_acc": 0.9, "score": 0.6 if i == 0 else 0.9}
             for i, a in enumerate(archs)]
    got = pool(cands, [], 4)
    assert [c["arch"] for c in got] == archs[1:] + archs[:1]


def test_without_a_prior_the_pool_keeps_the_shared_weights_order():
    archs = _archs(4, space="macro")
    a = [{"arch": x, "val_acc": 0.9 - i / 100} for i, x in enumerate(archs)]
    got = pool(a, [], 3)
    assert [c["arch"] for c in got] == archs[:3]
    assert [c["prior"] for c in got] == [None] * 3


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
    assert all(len(c["alone_train_acc"]) == len(c["alone_val_acc"]) for c in cands)
    first = rule(cands, 0)
    went_on = [k for k, c in enumerate(cands) if len(c["alone_val_acc"]) == 2]
    assert sorted(went_on) == sorted(first[:2])
    win = rule(cands, 1)[0]
    assert report["picked"] == win and cands[win]["picked"]
    # the final network is the selection's pick, and the trust figure is the tau of the pool
    assert result.best["arch"] == cands[win]["arch"]
    stage = rankdata([c["alone_val_acc"][0] for c in cands]) + rankdata(
        [c["alone_train_acc"][0] for c in cands])  # the first round's score
    assert report["kendall_tau"] == pytest.approx(
        kendalltau([c["shared_val_acc"] for c in cands], stage).statistic)
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


def test_the_stage_runs_by_default_where_it_costs_at_most_a_quarter_of_the_final_training():
    """12 more final epochs beat the stage after 2 (digits) and, on a 1,000-image upload, after
    16; at a quarter of the final training the epochs it would buy are worth less than its
    pick on every learning curve measured (bench/README.md). Left unset, it runs there, in a
    preset or a job's own final training alike; an explicit number (0: off) is kept."""
    from enas_core.config_migrations import load_stored, stored
    from enas_core.options import build_config
    from enas_core.presets import PRESETS, preset_config
    from enas_core.stage_rule import MAX_SHARE, stage_of, stage_share

    on = SelectConfig(8, 2)
    demo = preset_config("demo")
    # Same-size search and final networks: the stage's 8 + 4 epochs against the final ones.
    assert stage_share(demo, on) == pytest.approx(12 / demo.train.epochs)
    for name in PRESETS:
        config = preset_config(name)
        assert stage_of(config).active == (stage_share(config, on) <= MAX_SHARE), name
        assert ("selection stage" in PRESETS[name]) == stage_of(config).active, name
    assert [build_config({"final_epochs": e}, preset="demo").select.candidates
            for e in (16, 47, 48)] == [0, 0, 8]
    assert [build_config({"final_epochs": e}, preset="quick").select.candidates
            for e in (23, 24)] == [0, 8]  # a wider final network: the stage costs less
    assert [build_config({"final_epochs": e}, preset="paper-cifar10").select.candidates
            for e in (5, 10)] == [0, 8]  # 15 cells of 36 channels: its stage is cheap
    assert build_config({"final_epochs": 60, "select_candidates": 0},
                        preset="demo").select.candidates == 0
    assert build_config({"final_epochs": 2, "select_candidates": 4, "select_epochs": 3},
                        preset="demo").select == SelectConfig(4, 3)
    assert build_config({"final_epochs": 0}, preset="paper-cifar10").select.candidates == 0
    # A job's options are decided at once (its stored config says what it runs); the engine's
    # own config stays automatic, so that a library caller who changes the final training's
    # length afterwards gets the stage that length calls for.
    auto = preset_config("quick")
    assert auto.select.candidates is None and not stage_of(auto).active
    assert load_stored(stored(auto)) == auto
    assert stage_of(replace(auto, train=replace(auto.train, epochs=30))).active
    with pytest.raises(ValueError, match="stage_of"):
        auto.select.active  # noqa: B018 - a silent "off" would hide the stage


def test_submission_decides_the_stage_without_torch():
    code = ("import sys; from enas_core.options import build_config; "
            "c = build_config({'final_epochs': 48}, preset='demo'); "
            "assert c.select.candidates == 8; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
