"""ONNX and TorchScript exports give the PyTorch model's outputs on real images."""

import importlib.util
import warnings

import numpy as np
import pytest
import torch

from enas_core.config import ModelConfig, TrainConfig
from enas_core.export import exportable, save_model, to_onnx, to_torchscript
from enas_core.spaces.macro.architecture import MacroArchitecture
from enas_core.spaces.micro.architecture import MicroArchitecture
from enas_core.train import Trainer

ARCHS = {
    # every micro op, in both cells, with a stride-2 identity (factorized reduce)
    "micro": (MicroArchitecture.parse("1 0 0 1 2 2 1 3 0 4 3 0", "0 4 1 3 2 1 0 2 3 0 1 4"),
              ModelConfig(layers=3, channels=8, nodes=3, aux_head=True)),
    "macro": (MacroArchitecture.parse("0 1 1 3 0 1 4 1 0 1 5 0 1 1 0 2 1 0 0 1 1", 6),
              ModelConfig(space="macro", layers=6, channels=8)),
}


@pytest.fixture(scope="module", params=sorted(ARCHS))
def trained(request, digits, tmp_path_factory):
    """A briefly trained network (BN statistics that are not the identity), saved."""
    arch, model = ARCHS[request.param]
    config = TrainConfig(model=model, epochs=1, steps_per_epoch=5, batch_size=32)
    trainer = Trainer(arch, config, digits, seed=0)
    trainer.run_epoch()
    path = save_model(tmp_path_factory.mktemp(request.param) / "model.pt", trainer.model,
                      arch=arch, config=model, input_shape=trainer.input_shape,
                      classes=digits.train.classes, mean=digits.mean, std=digits.std)
    images = torch.from_numpy(np.ascontiguousarray(digits.test.x[:100])).float()
    if digits.test.x.dtype == np.uint8:
        images = images / 255
    return path, images.permute(0, 3, 1, 2).contiguous()  # raw pixels in [0, 1], NCHW


def expected(path, images):
    model, _ = exportable(path)
    with torch.no_grad():
        return model(images)


@pytest.mark.slow
def test_torchscript_export_matches_pytorch(trained, tmp_path):
    path, images = trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated too
        script = torch.jit.load(str(to_torchscript(path, tmp_path / "model.ts")))
        with torch.no_grad():
            got = script(images)
    want = expected(path, images)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.argmax(1), want.argmax(1))


@pytest.mark.slow
def test_onnx_export_matches_pytorch(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path, images = trained
    out = to_onnx(path, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"image": images.numpy()})[0])
    want = expected(path, images)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert torch.equal(got.argmax(1), want.argmax(1))
    one = torch.from_numpy(session.run(None, {"image": images[:1].numpy()})[0])  # any batch
    torch.testing.assert_close(one, want[:1], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_exports_leave_no_warnings_in_the_job_log(trained, tmp_path):
    """Torch's notes on its exporters would end every job's log; they are kept out."""
    path, _ = trained
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_torchscript(path, tmp_path / "model.ts")
        if importlib.util.find_spec("onnx") is not None:
            to_onnx(path, tmp_path / "model.onnx")
    assert [str(w.message)[:80] for w in caught] == []


@pytest.mark.parametrize("space", sorted(ARCHS))
def test_a_loaded_model_prints_a_summary(space, tmp_path):
    """`print(load_model(path))`: what the network is, in a few lines, not its module tree."""
    from enas_core.export import load_model
    from enas_core.spaces import build_network

    arch, model = ARCHS[space]
    net = build_network(arch, model, 1, 12)
    classes = tuple(f"c{i}" for i in range(12))
    path = save_model(tmp_path / "model.pt", net, arch=arch, config=model,
                      input_shape=(1, 28, 28), classes=classes, mean=(0.1307,), std=(0.3081,))
    loaded = load_model(path)
    params = sum(p.numel() for p in net.parameters())
    head = (f"LoadedModel: a {space} network, {params:,} params, input 1x28x28 (normalised: "
            f"mean 0.1307, std 0.3081), 12 classes (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ...)")
    cells = {"micro": ["  conv cell:      1 0 0 1 2 2 1 3 0 4 3 0",
                       "  reduction cell: 0 4 1 3 2 1 0 2 3 0 1 4"],
             "macro": ["  architecture: 0 1 1 3 0 1 4 1 0 1 5 0 1 1 0 2 1 0 0 1 1"]}
    assert repr(loaded).splitlines() == [head, *cells[space]]
    assert (loaded.arch, loaded.input_shape, loaded.classes) == (arch, (1, 28, 28), classes)
    assert not loaded.training
    net.eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
