import json

import pytest
import torch

from enas_core.config import replace
from enas_core.export import load_model
from enas_core.pipeline import Cancelled, run_job
from enas_core.progress import epoch_work
from enas_core.spaces import arch_from_json
from tests.enas_core.helpers import Interrupt, stable, tiny_run


@pytest.mark.slow
def test_search_runs_end_to_end_on_real_digits(digits, tmp_path):
    seen = []
    config = tiny_run(search_epochs=3)
    result = run_job(config, digits, out_dir=tmp_path, on_epoch=seen.append)
    arch = arch_from_json(result.best["arch"])  # valid: the strict parser accepts it
    assert arch.nodes == 3
    assert [(m.phase, m.epoch) for m in seen] == [("search", 1), ("search", 2), ("search", 3),
                                                  ("final", 1)]
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 1]
    search = seen[:3]
    assert all(len(m.sampled) == 2 * 3 for m in search)  # train_steps x num_aggregate
    assert all(0.0 <= s["reward"] <= 1.0 for m in search for s in m.sampled)
    assert all(m.entropy > 0 and m.baseline is not None for m in search)
    # Progress moves with the work of each epoch (progress.epoch_work), not their count.
    train = digits.train
    search, final = epoch_work(config, (train.channels, *train.image_shape[:2]),
                               train.num_classes, train.num_samples, digits.val.num_samples)
    assert [m.progress for m in seen] == pytest.approx(
        [k * search / (3 * search + final) for k in (1, 2, 3)] + [1.0])
    # The best is ranked on validation data: the top-k list is sorted, best first.
    accs = [c["val_acc"] for c in result.top_k]
    assert accs == sorted(accs, reverse=True) and result.best == result.top_k[0]
    # Final report and files.
    assert 0.0 <= result.final["test_acc"] <= 1.0
    assert result.final["params"] > 0 and result.final["flops"] > 0
    assert result.final["latency_ms"] > 0
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["best"] == result.best
    model = load_model(result.model_path)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.slow
@pytest.mark.parametrize("stop_after", [("search", 1), ("final", 1)])
def test_interrupted_and_resumed_equals_uninterrupted(digits, tmp_path, stop_after):
    config = tiny_run(search_epochs=2, final_epochs=2)
    full = run_job(config, digits, out_dir=tmp_path / "full")

    checkpoints = []

    def crash(metrics):
        checkpoints.append(metrics.checkpoint)
        if (metrics.phase, metrics.epoch) == stop_after:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_job(config, digits, out_dir=tmp_path / "cut", on_epoch=crash)
    resumed = run_job(config, digits, out_dir=tmp_path / "cut", resume_from=checkpoints[-1])

    assert resumed.best == full.best
    assert resumed.top_k == full.top_k
    assert stable(resumed.history) == stable(full.history)
    assert resumed.final["test_acc"] == full.final["test_acc"]
    a, b = torch.load(full.model_path), torch.load(resumed.model_path)
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key


def test_should_stop_cancels_between_steps(digits, tmp_path):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        run_job(tiny_run(), digits, out_dir=tmp_path, should_stop=stop)
    assert len(calls) == 4  # polled every step, stopped at the first True
    assert not (tmp_path / "result.json").exists()


@pytest.mark.slow
def test_time_limit_ends_the_search_and_keeps_the_best(digits, tmp_path):
    config = tiny_run(search_epochs=50, final_epochs=0)
    config = replace(config, search=replace(config.search, time_limit_s=0.5))
    result = run_job(config, digits, out_dir=tmp_path)
    assert result.search_stopped_early
    assert len(result.history) < 50
    arch_from_json(result.best["arch"])
    assert result.final is None and result.model_path is None


@pytest.mark.slow
def test_same_seed_same_search(digits, tmp_path):
    config = tiny_run(search_epochs=1, final_epochs=0)
    a = run_job(config, digits, out_dir=tmp_path / "a")
    b = run_job(config, digits, out_dir=tmp_path / "b")
    c = run_job(replace(config, seed=2), digits, out_dir=tmp_path / "c")
    assert stable(a.history) == stable(b.history)
    assert stable(a.history) != stable(c.history)
