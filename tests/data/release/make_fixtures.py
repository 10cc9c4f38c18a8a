"""Writes the files of tests/enas_core/test_release_files.py: what a release of the engine
saved (a search checkpoint, a trained model file, a latency table, for each space), and what
those files gave at the time. Run with the code of the release they stand for:

    PYTHONPATH=. python tests/data/release/make_fixtures.py

Written at commit 9dd360f (main before spaces became sub-packages). Uses only the public
engine API, so it keeps running on later code (to write a newer release's files)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from enas_core import run_job
from enas_core.config import (
    ControllerConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    TrainConfig,
    to_dict,
)
from enas_core.costs import smallest_architecture
from enas_core.data import prepare_data
from enas_core.export import load_model
from enas_core.latency import LatencyTable
from enas_core.spaces import get_space

HERE = Path(__file__).parent
VOLATILE = {"seconds", "checkpoint"}


def config(space: str) -> RunConfig:
    model = ModelConfig(space=space, layers=3, channels=4, nodes=2)
    return RunConfig(
        search=SearchConfig(model=model, controller=ControllerConfig(hidden_size=16, train_steps=1,
                                                                     num_aggregate=2),
                            epochs=2, steps_per_epoch=2, batch_size=16, eval_batch_size=32,
                            num_candidates=2, eval_batches=1, top_k=2),
        train=TrainConfig(model=model, epochs=1, steps_per_epoch=2, batch_size=16),
        seed=1,
    )


def main() -> None:
    torch.set_num_threads(1)
    data = prepare_data("digits", seed=0)
    images = torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28)
    expected: dict[str, dict] = {}
    for space in ("micro", "macro"):
        out = HERE / space
        out.mkdir(exist_ok=True)
        cfg = config(space)
        with tempfile.TemporaryDirectory() as tmp:
            def keep(metrics, out=out):
                if (metrics.phase, metrics.epoch) == ("search", 1):
                    shutil.copy(metrics.checkpoint, out / "checkpoint.pt")

            result = run_job(cfg, data, out_dir=tmp, on_epoch=keep)
            shutil.copy(result.model_path, out / "model.pt")
        model = load_model(out / "model.pt")
        with torch.no_grad():
            logits = model(images)
        table = LatencyTable.measure(cfg.search.model, (1, 28, 28), 10, warmup=0, repeats=1)
        table.save(out / "latency.json")
        archs = [smallest_architecture(space, get_space(space).size(cfg.search.model)),
                 get_space(space).largest(get_space(space).size(cfg.search.model))]
        expected[space] = {
            "config": to_dict(cfg),
            "best": result.best,
            "top_k": result.top_k,
            "history": [{k: v for k, v in row.items() if k not in VOLATILE}
                        for row in result.history],
            "test_acc": result.final["test_acc"],
            "logits": logits.tolist(),
            "latency": {"archs": [a.to_json() for a in archs],
                        "ms": [table.predict(a) for a in archs]},
        }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote", sorted(p.name for p in HERE.rglob("*") if p.is_file()), file=sys.stderr)


if __name__ == "__main__":
    main()
