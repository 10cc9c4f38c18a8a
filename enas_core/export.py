"""Saving a trained network with what it takes to rebuild it, and exporting it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .architecture import Architecture
from .config import ModelConfig, from_dict, to_dict
from .spaces import arch_from_json, build_network, get_space

FORMAT = "enas-model/1"


def atomic_save(obj: Any, path: Path) -> Path:
    """Write to a temporary name, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def save_model(path: str | Path, model: nn.Module, *, arch: Architecture, config: ModelConfig,
               input_shape: tuple[int, int, int], classes: tuple[str, ...],
               mean: tuple[float, ...], std: tuple[float, ...]) -> Path:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return atomic_save({
        "format": FORMAT,
        "arch": arch.to_json(),
        "model_config": to_dict(config),
        "input_shape": list(input_shape),
        "classes": list(classes),
        "mean": list(mean),
        "std": list(std),
        "state_dict": state,
    }, Path(path))


def read_model_file(path: str | Path) -> dict[str, Any]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path} is not an enas model file ({FORMAT})")
    return blob


class LoadedModel(nn.Module):
    """A trained network with what its file says about it: `arch`, `input_shape` (C, H, W),
    `classes`, `mean` and `std`. Calling it calls `network`, whose input is images normalised
    with `mean` and `std` (the TorchScript and ONNX exports take raw pixels). `print()` shows
    a summary; `print(model.network)` the module tree."""

    def __init__(self, network: nn.Module, *, arch: Architecture, input_shape: Sequence[int],
                 classes: Sequence[str], mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.network = network
        self.arch = arch
        self.input_shape = tuple(input_shape)
        self.classes = tuple(classes)
        self.mean, self.std = tuple(mean), tuple(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.network.parameters())
        names = ", ".join(self.classes[:10]) + (", ..." if len(self.classes) > 10 else "")
        lines = [f"LoadedModel: a {self.arch.space} network, {params:,} params, input "
                 f"{'x'.join(map(str, self.input_shape))} (normalised: mean "
                 f"{_numbers(self.mean)}, std {_numbers(self.std)}), "
                 f"{len(self.classes)} classes ({names})"]
        parts = get_space(self.arch.space).text_lines(self.arch.to_json())
        width = max(len(label) for label, _ in parts) + 1
        lines += [f"  {label + ':':<{width}} {text}" for label, text in parts]
        return "\n".join(lines)


def _numbers(values: Sequence[float]) -> str:
    return " ".join(f"{v:.4g}" for v in values)


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """The trained network in eval mode, with its architecture, input shape, classes and
    normalisation; its input is normalised with the saved mean/std."""
    blob = read_model_file(path)
    config = from_dict(ModelConfig, blob["model_config"])
    arch = arch_from_json(blob["arch"])
    network = build_network(arch, config, blob["input_shape"][0], len(blob["classes"]))
    network.load_state_dict(blob["state_dict"])
    model = LoadedModel(network, arch=arch, input_shape=blob["input_shape"],
                        classes=blob["classes"], mean=blob["mean"], std=blob["std"])
    return model.to(device).eval()


class Normalized(nn.Module):
    """Wraps a network so exports take raw pixels in [0, 1]: one less step to get wrong."""

    def __init__(self, model: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def exportable(path: str | Path) -> tuple[nn.Module, list[int]]:
    model = load_model(path)
    return (Normalized(model.network, list(model.mean), list(model.std)).eval(),
            list(model.input_shape))


@contextmanager
def _quiet_exporters() -> Iterator[None]:
    """Torch's notes on its exporters (TorchScript is deprecated; we choose the TorchScript-based
    ONNX exporter, which needs no onnxscript; constant folding skips a Slice) would land in
    every job's log: they say nothing about the user's model. Any other warning still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=r"You are using the legacy TorchScript-based",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"Constant folding - Only steps=1",
                                category=UserWarning)
        yield


def to_torchscript(model_path: str | Path, out: str | Path) -> Path:
    model, shape = exportable(model_path)
    with _quiet_exporters():
        traced = torch.jit.trace(model, torch.rand(1, *shape))
    traced.save(str(out))
    return Path(out)


def to_onnx(model_path: str | Path, out: str | Path) -> Path:
    model, shape = exportable(model_path)
    with _quiet_exporters():
        torch.onnx.export(model, (torch.rand(1, *shape),), str(out), input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "batch"}},
                          dynamo=False)
    return Path(out)
