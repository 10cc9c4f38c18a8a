"""What a final network costs, computed from its architecture without building it.

These are *predicted* costs; `metrics.measure_*` measure a built network (the tests check that
the two agree exactly). Each space walks its final network once (`SearchSpace.pieces`: every
piece in execution order, with its weights, its multiply-adds and a key naming the op, its
channels, resolution and stride, the keys the per-op latency table in `latency.py` is measured
at); `network_ops` is the part that runs at inference. From it:

- `count_params` equals `metrics.measure_params(net)` of the built network,
  auxiliary head included (it holds parameters even though it runs only in training);
- `count_flops` equals `metrics.measure_flops(net, input_shape)`: multiply-adds of one image at
  inference (convolutions and the classifier, as `FlopCounterMode` counts them, halved), so the
  auxiliary head, which runs only in training mode, is not counted;
- `peak_memory` replays the eval-mode forward pass's allocations and frees (`SearchSpace.replay`),
  in the order the network's Python code makes them, and returns weights + input + the largest
  live activations
  at a batch size. On the CPU it equals the live-tensor bytes `metrics.measure_memory` tracks;
  for CUDA it rounds every tensor to the caching allocator's 512-byte blocks (cuDNN
  workspaces are not modelled).

`CostModel` wraps these for one search: it caches per architecture, so pricing a controller
sample costs microseconds (bench/constraints.py measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .architecture import Architecture
from .config import ModelConfig
from .opcosts import CUDA_BLOCK, FLOAT_BYTES, MB, Heap, Key, NetOp
from .spaces import get_space, space_of

InputShape = tuple[int, int, int]


@dataclass(frozen=True)
class Memory:
    """Peak inference memory in bytes at `batch_size`: weights, the input, and the largest
    live activations the forward pass holds at once (the input not included)."""

    weights: int
    input: int
    activations: int
    batch_size: int

    @property
    def total(self) -> int:
        return self.weights + self.input + self.activations

    @property
    def mb(self) -> float:
        return self.total / MB


@dataclass(frozen=True)
class Costs:
    """An architecture's costs in its final network. `latency_ms` and `memory_mb` are None
    where they were not asked for."""

    params: int
    flops: int  # multiply-adds, one image, inference
    latency_ms: float | None = None  # predicted from the per-op table
    memory_mb: float | None = None  # computed peak at the latency batch size

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "flops": self.flops, "latency_ms": self.latency_ms,
                "memory_mb": self.memory_mb}

    def get(self, name: str) -> float | None:
        return getattr(self, name)


def pieces(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
           num_classes: int) -> list[NetOp]:
    """Every piece of the final network (`model` fitted to the architecture), those that do
    not run at inference (the auxiliary head, unused reductions) included."""
    space = space_of(arch)
    return space.pieces(arch, space.fit(arch, model), _shape(input_shape), num_classes)


def _shape(input_shape: Sequence[int]) -> InputShape:
    c, h, w = input_shape
    return c, h, w


def network_ops(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
                num_classes: int) -> list[NetOp]:
    """The final network's inference ops in execution order (the auxiliary head excluded)."""
    return [op for op in pieces(arch, model, input_shape, num_classes) if op.runs]


def count_params(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
                 num_classes: int) -> int:
    """Parameters of the final network, the auxiliary head's included."""
    return sum(op.params for op in pieces(arch, model, input_shape, num_classes))


def count_flops(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
                num_classes: int) -> int:
    """Multiply-adds of one image through the final network at inference."""
    return sum(op.macs for op in network_ops(arch, model, input_shape, num_classes))


def typical_flops(search: ModelConfig, network: Callable[[Architecture], ModelConfig],
                  input_shape: Sequence[int], num_classes: int) -> float:
    """Multiply-adds of one image through a typical architecture of the searched space (the
    sum over the same few random ones each call, so that two networks' figures compare), each
    in the network `network` makes for it."""
    rng = random.Random(0)
    archs = [get_space(search.space).random(search, rng) for _ in range(4)]
    return sum(count_flops(a, network(a), tuple(input_shape), num_classes) for a in archs)


def peak_memory(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
                num_classes: int, *, batch_size: int = 1, device: str = "cpu") -> Memory:
    """Peak memory of inference at `batch_size` on `device` ("cpu" or "cuda[:N]")."""
    space = space_of(arch)
    model = space.fit(arch, model)
    shape = _shape(input_shape)
    heap = Heap(block=CUDA_BLOCK if device.startswith("cuda") else 1, batch=batch_size)
    space.replay(heap, arch, model, shape, num_classes)
    assert heap.live == 0, "unbalanced memory replay"
    input_bytes = heap.round(batch_size * FLOAT_BYTES * shape[0] * shape[1] * shape[2])
    weights = sum(heap.round(8 if n < 0 else n * FLOAT_BYTES)  # -1: an int64 step counter
                  for op in space.pieces(arch, model, shape, num_classes)
                  for n in (*op.weights.params, *op.weights.buffers))
    return Memory(weights=weights, input=input_bytes, activations=heap.peak - input_bytes,
                  batch_size=batch_size)


# -- one search's cost model ------------------------------------------------------------------

LatencyFn = Callable[[list[NetOp]], float]


@dataclass
class CostModel:
    """Prices architectures for one network config and input (the final network's, so the
    limits mean what the trained model will cost). `latency` predicts milliseconds from a
    network's ops (a `latency.LatencyTable`); it is created on first use by `latency_factory`,
    so a search that never asks for latency never measures it."""

    model: ModelConfig
    input_shape: tuple[int, int, int]
    num_classes: int
    batch_size: int = 1  # for memory (and the latency table's batch size)
    device: str = "cpu"  # for memory rounding (and the latency table's device)
    latency_factory: Callable[[Architecture], LatencyFn] | None = None
    cache_size: int = 4096
    _latency: LatencyFn | None = field(default=None, init=False, repr=False)
    _cache: dict[tuple[str, bool, bool], Costs] = field(default_factory=dict, init=False,
                                                        repr=False)

    def __post_init__(self) -> None:
        self.input_shape = _shape(self.input_shape)

    def ops(self, arch: Architecture) -> list[NetOp]:
        return network_ops(arch, self.model, self.input_shape, self.num_classes)

    def _predict(self, arch: Architecture, ops: list[NetOp]) -> float:
        if self._latency is None:
            if self.latency_factory is None:
                raise ValueError("this cost model has no latency table")
            self._latency = self.latency_factory(arch)
        return self._latency(ops)

    def latency_ms(self, arch: Architecture) -> float:
        return self._predict(arch, self.ops(arch))

    def memory(self, arch: Architecture) -> Memory:
        return peak_memory(arch, self.model, self.input_shape, self.num_classes,
                           batch_size=self.batch_size, device=self.device)

    def __call__(self, arch: Architecture, *, latency: bool = False,
                 memory: bool = False) -> Costs:
        key = (f"{arch.space}:{arch}", latency, memory)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        every = pieces(arch, self.model, self.input_shape, self.num_classes)
        running = [op for op in every if op.runs]
        costs = Costs(
            params=sum(op.params for op in every),
            flops=sum(op.macs for op in running),
            latency_ms=self._predict(arch, running) if latency else None,
            memory_mb=self.memory(arch).mb if memory else None,
        )
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[key] = costs
        return costs


@lru_cache(maxsize=64)
def smallest_architecture(space: str, size: int) -> Architecture:
    """The architecture with the fewest parameters and multiply-adds in its space (of `size`:
    micro nodes, macro layers)."""
    return get_space(space).smallest(size)


def cheapest_architecture(model: ModelConfig) -> Architecture:
    """The cheapest architecture a search under `model` can find."""
    space = get_space(model.space)
    return smallest_architecture(model.space, space.size(model))


__all__ = [
    "MB",
    "CostModel",
    "Costs",
    "Key",
    "Memory",
    "NetOp",
    "cheapest_architecture",
    "count_flops",
    "count_params",
    "network_ops",
    "peak_memory",
    "pieces",
    "smallest_architecture",
]
