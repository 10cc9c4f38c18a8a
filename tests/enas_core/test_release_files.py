"""Files a release of the engine wrote still load, and give what they gave then: a trained
model file, a search checkpoint (resumed, the run ends as the release's run ended) and a
latency table, for each space. tests/data/release/make_fixtures.py wrote them (at 9dd360f,
before the spaces moved into sub-packages)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from enas_core import run_job
from enas_core.config import RunConfig, from_dict
from enas_core.export import load_model
from enas_core.latency import LatencyTable, _cache_path, latency_table
from enas_core.spaces import arch_from_json

from .helpers import stable

RELEASE = Path(__file__).parents[1] / "data" / "release"
EXPECTED = json.loads((RELEASE / "expected.json").read_text())
SPACES = sorted(EXPECTED)


def _timeless(value: object) -> object:
    """`value` without measured latencies, which differ from run to run."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "latency_ms"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_the_release_files_cover_every_space_there_was():
    assert SPACES == ["macro", "micro"]


@pytest.mark.parametrize("space", SPACES)
def test_a_saved_model_loads_and_computes_what_it_did(space):
    model = load_model(RELEASE / space / "model.pt")
    assert model.arch.to_json() == EXPECTED[space]["best"]["arch"]
    with torch.no_grad():
        logits = model(torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28))
    torch.testing.assert_close(logits, torch.tensor(EXPECTED[space]["logits"]),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("space", SPACES)
def test_a_latency_table_loads_from_the_cache_and_predicts_what_it_did(space, tmp_path,
                                                                      monkeypatch):
    data = json.loads((RELEASE / space / "latency.json").read_text())
    config = from_dict(RunConfig, EXPECTED[space]["config"])
    model = config.search.model
    # The cache is per machine and torch version: file the release's table under this one's.
    key = LatencyTable.cache_key(model, (1, 28, 28), 10, device="cpu", batch_size=1)
    data["meta"] = {**data["meta"], **{k: key[k] for k in ("device", "torch", "threads")}}
    path = _cache_path(key, tmp_path)
    path.write_text(json.dumps(data))

    def measure(*args, **kwargs):
        raise AssertionError("the cached table was not used")

    monkeypatch.setattr(LatencyTable, "measure", measure)
    table = latency_table(model, (1, 28, 28), 10, cache_dir=tmp_path)
    assert table.path == path
    latency = EXPECTED[space]["latency"]
    archs = [arch_from_json(a) for a in latency["archs"]]
    assert [table.predict(a) for a in archs] == pytest.approx(latency["ms"], rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("space", SPACES)
def test_a_search_checkpoint_resumes_to_the_same_end(space, tmp_path, digits):
    torch.set_num_threads(1)
    expected = EXPECTED[space]
    config = from_dict(RunConfig, expected["config"])
    shutil.copy(RELEASE / space / "checkpoint.pt", tmp_path / "checkpoint.pt")
    result = run_job(config, digits, out_dir=tmp_path / "out",
                     resume_from=tmp_path / "checkpoint.pt")
    assert _timeless(result.best) == _timeless(expected["best"])
    assert _timeless(result.top_k) == _timeless(expected["top_k"])
    got, want = _timeless(stable(result.history)), _timeless(stable(expected["history"]))
    assert [_exact(e) for e in got] == [_exact(e) for e in want]
    # The final network is evaluated near chance (2 steps of training): there the last bits in
    # which two CPUs' kernels differ (the files were written on an AMD EPYC; an Intel Xeon
    # moved 5 of 450 validation images and 2 of 500 test images) move images across the
    # decision boundary. The search, the architectures and the training itself stay exact.
    for g, w in zip(got, want, strict=True):
        for key in _NEAR:
            assert g.get(key) == pytest.approx(w.get(key), abs=0.03), (g["phase"], key)
    assert result.final["test_acc"] == pytest.approx(expected["test_acc"], abs=0.03)


_NEAR = ("val_acc", "val_loss")  # of the final network: near, not bit-equal, across CPUs


def _exact(entry: dict) -> dict:
    return entry if entry["phase"] != "final" else {
        k: v for k, v in entry.items() if k not in _NEAR}
