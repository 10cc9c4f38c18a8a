"""What a final network costs, computed from its architecture without building it.

`network_ops(arch, model, input_shape, num_classes)` lists the inference-time pieces of the final
network (`model.MicroNetwork` or `macro.MacroNetwork`) in execution order, each with its
parameters, its multiply-adds and a key naming the op, its channels, resolution and stride: the
keys the per-op latency table (`latency.py`) is measured at. From it:

- `count_params` equals `sum(p.numel() for p in net.parameters())` of the built network,
  auxiliary head included (it holds parameters even though it runs only in training);
- `count_flops` equals `metrics.count_flops(net, input_shape)`: multiply-adds of one image at
  inference (convolutions and the classifier, as `FlopCounterMode` counts them, halved), so the
  auxiliary head, which runs only in training mode, is not counted;
- `peak_memory` replays the eval-mode forward pass's allocations and frees, in the order the
  network's Python code makes them, and returns weights + input + the largest live activations
  at a batch size. On the CPU it equals the live-tensor bytes `metrics.measure_memory` tracks;
  for CUDA it rounds every tensor to the caching allocator's 512-byte blocks (cuDNN
  workspaces are not modelled).

`CostModel` wraps these for one search: it caches per architecture, so pricing a controller
sample costs microseconds (bench/constraints.py measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .architecture import MACRO_PRIMITIVES, Architecture, MacroArchitecture, MicroArchitecture
from .config import ModelConfig
from .macro import kept_states, pool_layers
from .ops import PRIMITIVES

MB = 2**20  # memory limits and reports are in MiB
FLOAT_BYTES = 4  # float32 weights and activations
CUDA_BLOCK = 512  # the CUDA caching allocator rounds every allocation up to this

Key = tuple[Any, ...]


@dataclass(frozen=True)
class NetOp:
    """One piece of a final network at inference: a latency-table key, parameters, MACs."""

    key: Key
    params: int = 0
    macs: int = 0


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


def _half(n: int) -> int:
    """Every stride-2 op here (3x3/5x5 with padding, 1x1 without) maps n to ceil(n / 2)."""
    return (n + 1) // 2


def _stage_layout(layers: int) -> list[bool]:
    from .search_model import stage_layout

    return stage_layout(layers)


# -- op costs ---------------------------------------------------------------------------------
# BatchNorm holds 2c parameters (weight, bias); its running statistics are buffers.


def _sep_conv(c: int, k: int, hw: int, twice: bool) -> tuple[int, int]:
    """(params, MACs) of (ReLU, depthwise kxk, pointwise, BN), once or twice (micro: twice)."""
    n = 2 if twice else 1
    return n * (c * k * k + c * c + 2 * c), n * (c * k * k + c * c) * hw


def _fr(c_in: int, c_out: int, out_hw: int) -> tuple[int, int]:
    """FactorizedReduce / FactorizedReduction: two 1x1 stride-2 convs, concatenated, BN."""
    return c_in * c_out + 2 * c_out, c_in * c_out * out_hw


def _micro_op(name: str, c: int, h: int, w: int, stride: int) -> NetOp:
    key = ("op", name, c, h, w, stride)
    ho, wo = (_half(h), _half(w)) if stride == 2 else (h, w)
    if name.startswith("sep_conv"):
        params, macs = _sep_conv(c, int(name[-1]), ho * wo, twice=True)
        return NetOp(key, params, macs)
    if name == "identity" and stride == 2:
        return NetOp(key, *_fr(c, c, ho * wo))
    return NetOp(key)  # pools, identity


def _macro_op(name: str, c: int, h: int, w: int) -> NetOp:
    key = ("mop", name, c, h, w)
    k = int(name[-1])
    if name.startswith("conv"):
        return NetOp(key, c * c * k * k + 2 * c, c * c * k * k * h * w)
    if name.startswith("sep_conv"):
        return NetOp(key, *_sep_conv(c, k, h * w, twice=False))
    return NetOp(key)


def _aux_params(c: int, num_classes: int) -> int:
    """model.AuxiliaryHead: 1x1 conv to 128, BN, 2x2 conv to 768, BN, linear."""
    return c * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes + num_classes


# -- the network as a list of ops -------------------------------------------------------------


def _micro_ops(arch: MicroArchitecture, model: ModelConfig, input_shape: tuple[int, int, int],
               num_classes: int) -> tuple[list[NetOp], int]:
    """(inference ops in order, auxiliary-head parameters)."""
    c_in, h, w = input_shape
    c = model.channels
    c_stem = model.stem_multiplier * c
    ops = [NetOp(("stem", c_in, c_stem, h, w), c_in * c_stem * 9 + 2 * c_stem,
                 c_in * c_stem * 9 * h * w)]
    c_pp, c_p, reduction_prev = c_stem, c_stem, False
    hp, wp = h, w  # resolution of s0 (the cell before the previous one)
    reductions = aux = 0
    for reduction in _stage_layout(model.layers):
        if reduction:
            c *= 2
            reductions += 1
        if reduction_prev:
            ops.append(NetOp(("pre_fr", c_pp, c, hp, wp), *_fr(c_pp, c, h * w)))
        else:
            ops.append(NetOp(("pre_rcb", c_pp, c, hp, wp), c_pp * c + 2 * c, c_pp * c * hp * wp))
        ops.append(NetOp(("pre_rcb", c_p, c, h, w), c_p * c + 2 * c, c_p * c * h * w))
        ho, wo = (_half(h), _half(w)) if reduction else (h, w)
        cell = arch.reduce if reduction else arch.conv
        for node in cell.nodes:
            for j, op in ((node.in1, node.op1), (node.in2, node.op2)):
                stride = 2 if reduction and j < 2 else 1
                hi, wi = (h, w) if j < 2 else (ho, wo)
                ops.append(_micro_op(PRIMITIVES[op], c, hi, wi, stride))
            ops.append(NetOp(("add", c, ho, wo)))
        loose = len(cell.loose_ends())
        ops.append(NetOp(("out", loose, c, ho, wo), loose * c * c + 2 * c, loose * c * c * ho * wo))
        if model.aux_head and reduction and reductions == 2:
            aux = _aux_params(c, num_classes)
        c_pp, c_p, reduction_prev = c_p, c, reduction
        hp, wp, h, w = h, w, ho, wo
    ops.append(NetOp(("head", c_p, num_classes, h, w), c_p * num_classes + num_classes,
                     c_p * num_classes))
    return ops, aux


def _macro_ops(arch: MacroArchitecture, model: ModelConfig, input_shape: tuple[int, int, int],
               num_classes: int) -> list[NetOp]:
    c_in, h, w = input_shape
    c = model.channels
    ops = [NetOp(("mstem", c_in, c, h, w), c_in * c * 9 + 2 * c, c_in * c * 9 * h * w)]
    pool_at = pool_layers(arch.layers)
    for i, (op, flags) in enumerate(zip(arch.ops, arch.skips, strict=True)):
        ops.append(_macro_op(MACRO_PRIMITIVES[op], c, h, w))
        reads = sum(flags)
        ops += [NetOp(("add", c, h, w))] * reads
        if reads:
            ops.append(NetOp(("div", c, h, w)))
        ops.append(NetOp(("bn", c, h, w), 2 * c))
        if i in pool_at:
            # MacroNetwork builds a reduction for every state a later layer reads, but runs
            # only those of states that exist at this point (index <= i + 1): a skip to a
            # layer after the pool holds parameters it never uses.
            ho, wo = _half(h), _half(w)
            for k in kept_states(arch, i):
                params, macs = _fr(c, c, ho * wo)
                ops.append(NetOp(("mreduce", c, h, w), params, macs) if k <= i + 1
                           else NetOp(("unused",), params))
            h, w = ho, wo
    ops.append(NetOp(("head", c, num_classes, h, w), c * num_classes + num_classes,
                     c * num_classes))
    return ops


def _fit(arch: Architecture, model: ModelConfig) -> ModelConfig:
    from .spaces import network_config_for

    return network_config_for(arch, model)


def network_ops(arch: Architecture, model: ModelConfig, input_shape: tuple[int, int, int],
                num_classes: int) -> list[NetOp]:
    """The final network's inference ops in execution order (the auxiliary head excluded)."""
    model = _fit(arch, model)
    if isinstance(arch, MacroArchitecture):
        return _macro_ops(arch, model, tuple(input_shape), num_classes)
    return _micro_ops(arch, model, tuple(input_shape), num_classes)[0]


def count_params(arch: Architecture, model: ModelConfig, input_shape: tuple[int, int, int],
                 num_classes: int) -> int:
    """Parameters of the final network, the auxiliary head's included."""
    model = _fit(arch, model)
    if isinstance(arch, MacroArchitecture):
        return sum(op.params for op in _macro_ops(arch, model, tuple(input_shape), num_classes))
    ops, aux = _micro_ops(arch, model, tuple(input_shape), num_classes)
    return sum(op.params for op in ops) + aux


def count_flops(arch: Architecture, model: ModelConfig, input_shape: tuple[int, int, int],
                num_classes: int) -> int:
    """Multiply-adds of one image through the final network at inference."""
    return sum(op.macs for op in network_ops(arch, model, input_shape, num_classes))


# -- memory -----------------------------------------------------------------------------------


class _T:
    """A simulated tensor: its storage's bytes and the references the forward code holds."""

    __slots__ = ("nbytes", "refs")

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.refs = 0


@dataclass
class _Heap:
    """Live bytes and their peak, for a replayed forward pass. Every `new` and `ref` is matched
    by a `drop`, placed where the network's Python code drops its last reference."""

    block: int
    batch: int
    live: int = 0
    peak: int = 0

    def new(self, c: int, h: int, w: int, itemsize: int = FLOAT_BYTES) -> _T:
        return self.ref(_T(self.round(self.batch * c * h * w * itemsize)))

    def round(self, nbytes: int) -> int:
        if self.block > 1:
            return max(self.block, -(-nbytes // self.block) * self.block)
        return nbytes

    def ref(self, t: _T) -> _T:
        if t.refs == 0:
            self.live += t.nbytes
            self.peak = max(self.peak, self.live)
        t.refs += 1
        return t

    def drop(self, *ts: _T) -> None:
        for t in ts:
            t.refs -= 1
            if t.refs == 0:
                self.live -= t.nbytes

    def chain(self, x: _T, shapes: list[tuple[int, int, int]]) -> _T:
        """An nn.Sequential of ops that each allocate their output: the input stays held by
        the caller; each intermediate dies when the next one exists."""
        prev = x
        for shape in shapes:
            out = self.new(*shape)
            if prev is not x:
                self.drop(prev)
            prev = out
        return prev

    def max_pool(self, c: int, h: int, w: int) -> _T:
        out = self.new(c, h, w)
        # max_pool2d runs max_pool2d_with_indices (on the CPU too, without gradients): the
        # int64 indices live as long as the op.
        self.drop(self.new(c, h, w, itemsize=8))
        return out


def _fr_forward(heap: _Heap, x: _T, c_in: int, c_out: int, h: int, w: int, relu: bool) -> _T:
    """ops.FactorizedReduce (relu=True) / macro.FactorizedReduction on x (held by the caller)."""
    ho, wo = _half(h), _half(w)
    r = heap.new(c_in, h, w) if relu else x
    shifted = heap.new(c_in, h, w)  # F.pad of the offset view
    a = heap.new(c_out // 2, ho, wo)
    b = heap.new(c_out - c_out // 2, ho, wo)
    cat = heap.new(c_out, ho, wo)
    heap.drop(a, b)
    out = heap.new(c_out, ho, wo)  # BN
    heap.drop(cat, shifted)
    if relu:
        heap.drop(r)
    return out


def _micro_op_forward(heap: _Heap, x: _T, name: str, c: int, h: int, w: int,
                      stride: int) -> _T:
    ho, wo = (_half(h), _half(w)) if stride == 2 else (h, w)
    if name.startswith("sep_conv"):  # relu, dw, pw, bn, relu, dw, pw, bn
        return heap.chain(x, [(c, h, w)] + [(c, ho, wo)] * 7)
    if name == "avg_pool_3x3":
        return heap.new(c, ho, wo)
    if name == "max_pool_3x3":
        return heap.max_pool(c, ho, wo)
    if stride == 2:
        return _fr_forward(heap, x, c, c, h, w, relu=True)
    return heap.ref(x)  # Identity returns its input


def _micro_memory(heap: _Heap, arch: MicroArchitecture, model: ModelConfig,
                  input_shape: tuple[int, int, int], num_classes: int) -> None:
    """Replays MicroNetwork.forward (eval mode) on `heap`."""
    c_in, h, w = input_shape
    c = model.channels
    c_stem = model.stem_multiplier * c
    x = heap.new(c_in, h, w)  # held by the caller throughout
    stem = heap.chain(x, [(c_stem, h, w)] * 2)
    s0, s1 = stem, heap.ref(stem)
    c_pp, c_p, reduction_prev = c_stem, c_stem, False
    hp, wp = h, w
    for reduction in _stage_layout(model.layers):
        if reduction:
            c *= 2
        ho, wo = (_half(h), _half(w)) if reduction else (h, w)
        cell = arch.reduce if reduction else arch.conv
        # FixedCell.forward(s0, s1): s0 and s1 stay held by the caller.
        if reduction_prev:
            p0 = _fr_forward(heap, s0, c_pp, c, hp, wp, relu=True)
        else:
            p0 = heap.chain(s0, [(c_pp, hp, wp), (c, hp, wp), (c, hp, wp)])
        p1 = heap.chain(s1, [(c_p, h, w), (c, h, w), (c, h, w)])
        states = [p0, p1]
        ha = hb = None
        for node in cell.nodes:
            outs = []
            for j, op in ((node.in1, node.op1), (node.in2, node.op2)):
                stride = 2 if reduction and j < 2 else 1
                hi, wi = (h, w) if j < 2 else (ho, wo)
                outs.append(_micro_op_forward(heap, states[j], PRIMITIVES[op], c, hi, wi, stride))
            if ha is not None:  # `ha, hb = ...` drops the previous node's op outputs
                heap.drop(ha, hb)
            ha, hb = outs
            states.append(heap.new(c, ho, wo))  # ha + hb
        loose = cell.loose_ends()
        cat = heap.new(len(loose) * c, ho, wo)
        out = heap.chain(cat, [(len(loose) * c, ho, wo), (c, ho, wo), (c, ho, wo)])
        heap.drop(cat, *states, ha, hb)  # the cell returns: its locals go
        # `s0, s1 = s1, cell(s0, s1)`
        heap.drop(s0)
        s0, s1 = s1, out
        c_pp, c_p, reduction_prev = c_p, c, reduction
        hp, wp, h, w = h, w, ho, wo
    pooled = heap.new(c_p, 1, 1)
    logits = heap.new(num_classes, 1, 1)
    heap.drop(pooled, logits, s0, s1, x)


def _macro_memory(heap: _Heap, arch: MacroArchitecture, model: ModelConfig,
                  input_shape: tuple[int, int, int], num_classes: int) -> None:
    """Replays MacroNetwork.forward (eval mode) on `heap`."""
    c_in, h, w = input_shape
    c = model.channels
    x = heap.new(c_in, h, w)
    states: list[_T | None] = [heap.chain(x, [(c, h, w)] * 2)]
    pool_at = pool_layers(arch.layers)
    out: _T | None = None
    for i, (op, flags) in enumerate(zip(arch.ops, arch.skips, strict=True)):
        name = MACRO_PRIMITIVES[op]
        inp = states[i]
        if name.startswith(("conv", "sep_conv")):
            steps = 3 if name.startswith("conv") else 4  # relu, conv(s), bn
            new = heap.chain(inp, [(c, h, w)] * steps)
        elif name == "max_pool_3x3":
            new = heap.max_pool(c, h, w)
        else:
            new = heap.new(c, h, w)
        if out is not None:
            heap.drop(out)
        out = new
        reads = [j for j, flag in enumerate(flags) if flag]
        for _ in range(len(reads) + (1 if reads else 0)):  # out + s, ..., then out / k
            new = heap.new(c, h, w)
            heap.drop(out)
            out = new
        states.append(heap.new(c, h, w))  # BN
        if i in pool_at:
            kept = set(kept_states(arch, i))
            reduced: list[_T | None] = []
            for k, s in enumerate(states):
                reduced.append(_fr_forward(heap, s, c, c, h, w, relu=False)
                               if k in kept and s is not None else None)
            heap.drop(*(s for s in states if s is not None))
            states = reduced
            h, w = _half(h), _half(w)
    pooled = heap.new(c, 1, 1)
    logits = heap.new(num_classes, 1, 1)
    heap.drop(pooled, logits, *(s for s in states if s is not None), x)
    if out is not None:
        heap.drop(out)


def _weight_tensors(arch: Architecture, model: ModelConfig, input_shape: tuple[int, int, int],
                    num_classes: int) -> Iterator[int]:
    """Numels of every parameter and float buffer tensor of the final network; BNs also hold
    an int64 step counter, yielded as -1."""

    def bn(c: int) -> Iterator[int]:
        yield from (c, c, c, c, -1)  # weight, bias, running mean, running var, step counter

    def sep(c: int, k: int, twice: bool) -> Iterator[int]:
        for _ in range(2 if twice else 1):
            yield from (c * k * k, c * c)
            yield from bn(c)

    def fr(c_in: int, c_out: int) -> Iterator[int]:
        yield from (c_in * (c_out // 2), c_in * (c_out - c_out // 2))
        yield from bn(c_out)

    model = _fit(arch, model)
    c_in = input_shape[0]
    c = model.channels
    if isinstance(arch, MacroArchitecture):
        yield c_in * c * 9
        yield from bn(c)
        for op in arch.ops:
            name = MACRO_PRIMITIVES[op]
            k = int(name[-1])
            if name.startswith("conv"):
                yield c * c * k * k
                yield from bn(c)
            elif name.startswith("sep_conv"):
                yield from sep(c, k, twice=False)
            yield from bn(c)
        for i in pool_layers(arch.layers):
            for _ in kept_states(arch, i):
                yield from fr(c, c)
        yield from (c * num_classes, num_classes)
        return
    c_stem = model.stem_multiplier * c
    yield c_in * c_stem * 9
    yield from bn(c_stem)
    c_pp, c_p, reduction_prev = c_stem, c_stem, False
    reductions = 0
    for reduction in _stage_layout(model.layers):
        if reduction:
            c *= 2
            reductions += 1
        if reduction_prev:
            yield from fr(c_pp, c)
        else:
            yield c_pp * c
            yield from bn(c)
        yield c_p * c
        yield from bn(c)
        cell = arch.reduce if reduction else arch.conv
        for node in cell.nodes:
            for j, op in ((node.in1, node.op1), (node.in2, node.op2)):
                name = PRIMITIVES[op]
                if name.startswith("sep_conv"):
                    yield from sep(c, int(name[-1]), twice=True)
                elif name == "identity" and reduction and j < 2:
                    yield from fr(c, c)
        yield len(cell.loose_ends()) * c * c
        yield from bn(c)
        if model.aux_head and reduction and reductions == 2:
            yield c * 128
            yield from bn(128)
            yield 128 * 768 * 4
            yield from bn(768)
            yield from (768 * num_classes, num_classes)
        c_pp, c_p, reduction_prev = c_p, c, reduction
    yield from (c_p * num_classes, num_classes)


def peak_memory(arch: Architecture, model: ModelConfig, input_shape: tuple[int, int, int],
                num_classes: int, *, batch_size: int = 1, device: str = "cpu") -> Memory:
    """Peak memory of inference at `batch_size` on `device` ("cpu" or "cuda[:N]")."""
    model = _fit(arch, model)
    input_shape = tuple(input_shape)
    block = CUDA_BLOCK if device.startswith("cuda") else 1
    heap = _Heap(block=block, batch=batch_size)
    if isinstance(arch, MacroArchitecture):
        _macro_memory(heap, arch, model, input_shape, num_classes)
    else:
        _micro_memory(heap, arch, model, input_shape, num_classes)
    assert heap.live == 0, "unbalanced memory replay"
    input_bytes = heap.round(batch_size * FLOAT_BYTES * input_shape[0] * input_shape[1]
                             * input_shape[2])
    weights = sum(heap.round(8 if n < 0 else n * FLOAT_BYTES)
                  for n in _weight_tensors(arch, model, input_shape, num_classes))
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
        self.input_shape = tuple(self.input_shape)

    def ops(self, arch: Architecture) -> list[NetOp]:
        return network_ops(arch, self.model, self.input_shape, self.num_classes)

    def latency_ms(self, arch: Architecture) -> float:
        if self._latency is None:
            if self.latency_factory is None:
                raise ValueError("this cost model has no latency table")
            self._latency = self.latency_factory(arch)
        return self._latency(self.ops(arch))

    def memory(self, arch: Architecture) -> Memory:
        return peak_memory(arch, self.model, self.input_shape, self.num_classes,
                           batch_size=self.batch_size, device=self.device)

    def __call__(self, arch: Architecture, *, latency: bool = False,
                 memory: bool = False) -> Costs:
        key = (f"{arch.space}:{arch}", latency, memory)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        model = _fit(arch, self.model)
        if isinstance(arch, MacroArchitecture):
            ops, aux = _macro_ops(arch, model, self.input_shape, self.num_classes), 0
        else:
            ops, aux = _micro_ops(arch, model, self.input_shape, self.num_classes)
        costs = Costs(
            params=sum(op.params for op in ops) + aux,
            flops=sum(op.macs for op in ops),
            latency_ms=self.latency_ms(arch) if latency else None,
            memory_mb=self.memory(arch).mb if memory else None,
        )
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[key] = costs
        return costs


@lru_cache(maxsize=64)
def smallest_architecture(space: str, size: int) -> Architecture:
    """The architecture with the fewest parameters and multiply-adds in its space: pools
    everywhere, micro nodes in a chain (one loose end), macro layers without skips."""
    pool = PRIMITIVES.index("max_pool_3x3")
    if space == "macro":
        op = MACRO_PRIMITIVES.index("max_pool_3x3")
        return MacroArchitecture.parse(
            [v for i in range(size) for v in (op, *([0] * i))], size)
    # node 0 reads inputs 0 and 1; node k reads node k-1 (input k+1) twice.
    cell = [v for k in range(size) for v in ((0, pool, 1, pool) if k == 0
                                             else (k + 1, pool, k + 1, pool))]
    return MicroArchitecture.parse(cell, cell)


__all__ = [
    "MB",
    "CostModel",
    "Costs",
    "Memory",
    "NetOp",
    "count_flops",
    "count_params",
    "network_ops",
    "peak_memory",
    "smallest_architecture",
]
