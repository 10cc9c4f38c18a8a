"""A user's first upload: 1,000 real digits, the quick preset's final training.

Before batch-norm statistics were recomputed for evaluation, this training ended at chance
(val_acc 0.111 every epoch, test_acc 0.11, one class predicted for every image) while its
training accuracy reached 0.99.
"""

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from enas_core.config import train_batch_size
from enas_core.data import load_digits, load_file, make_splits
from enas_core.export import exportable, save_model, to_onnx, to_torchscript
from enas_core.presets import preset_config
from enas_core.spaces import network_config_for
from enas_core.spaces.micro.architecture import MicroArchitecture
from enas_core.train import Trainer

# A real final training on 1,000 images (minutes on two cores).
pytestmark = pytest.mark.slow(cpu_s=40)

# The README's example architecture
ARCH = MicroArchitecture.parse("1 2 1 3 0 1 0 4 1 1 1 1 0 1 0 1 1 0 0 1",
                               "0 1 0 4 1 0 2 0 0 3 1 1 0 0 0 0 4 1 1 0")


@pytest.fixture(scope="module")
def upload(tmp_path_factory):
    """What `enas example-data digits.npz` writes, loaded as an upload is, and split."""
    digits = load_digits()
    path = tmp_path_factory.mktemp("upload") / "digits.npz"
    np.savez_compressed(path, x=digits.x[:1000, :, :, 0], y=digits.y[:1000])
    return make_splits(load_file(path), seed=0)


@pytest.fixture(scope="module")
def trained(upload, tmp_path_factory):
    config = preset_config("quick").train
    config = replace(config, model=network_config_for(ARCH, config.model))
    trainer = Trainer(ARCH, config, upload, seed=0)
    while trainer.epoch < config.epochs:
        trainer.run_epoch()
    report = trainer.report()
    path = save_model(tmp_path_factory.mktemp("model") / "model.pt", trainer.model, arch=ARCH,
                      config=config.model, input_shape=trainer.input_shape,
                      classes=upload.train.classes, mean=upload.mean, std=upload.std)
    return trainer, report, path


def test_quick_final_training_on_a_1000_image_upload_learns(upload, trained):
    trainer, report, _ = trained
    assert upload.train.num_samples == 810
    # 810 images at the preset's batch 128 would be 6 steps an epoch: the batch is made smaller
    assert report["batch_size"] == train_batch_size(trainer.config, 810) == 32
    assert report["test_acc"] >= 0.90, report
    assert all(h["val_acc"] > 0.5 for h in trainer.history[1:]), trainer.history
    assert report["warnings"] == []


def _pixels(split):
    x = torch.from_numpy(np.ascontiguousarray(split.x)).float() / 255
    return x.permute(0, 3, 1, 2).contiguous(), torch.from_numpy(split.y.astype(np.int64))


def test_exports_score_what_the_pytorch_model_scores(upload, trained, tmp_path):
    _, report, path = trained
    images, labels = _pixels(upload.test)
    model, _ = exportable(path)  # raw pixels in, normalisation inside, as the exports
    with torch.no_grad():
        want = model(images).argmax(1)
    assert (want == labels).float().mean().item() == pytest.approx(report["test_acc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated
        script = torch.jit.load(str(to_torchscript(path, tmp_path / "model.ts")))
        with torch.no_grad():
            assert torch.equal(script(images).argmax(1), want)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(to_onnx(path, tmp_path / "model.onnx")))
    name = session.get_inputs()[0].name
    got = session.run(None, {name: images.numpy()})[0].argmax(1)
    assert np.array_equal(got, want.numpy())


def test_a_network_that_does_not_generalise_carries_a_warning(upload):
    """Validation labels that have nothing to do with the images: the network fits its
    training data and scores at chance on validation data; the report says so."""
    rng = np.random.default_rng(0)
    val = replace(upload.val, y=rng.permutation(upload.val.y))
    data = replace(upload, val=val)
    arch = MicroArchitecture.parse("1 0 1 4 0 0 2 4", "0 0 1 0 2 0 1 3")
    config = preset_config("quick").train
    config = replace(config, epochs=3, model=replace(network_config_for(arch, config.model),
                                                     channels=8, nodes=2))
    trainer = Trainer(arch, config, data, seed=0)
    while trainer.epoch < config.epochs:
        trainer.run_epoch()
    report = trainer.report()
    assert report["train_acc"] > 0.6, report
    assert [w["code"] for w in report["warnings"]] == ["val_acc_at_chance"], report
