"""Many architectures of one shared-weight network evaluated on the same batch, their common
work done once.

Candidates ranked on validation data (`Searcher.derive`) share much of their forward pass:
the stem and the first cells' preprocessing do not depend on the architecture, nor does
each op a cell applies to an architecture-independent input (in the micro space, the first
cell's ops on its two inputs and the second cell's on its first), and architectures that
agree on a prefix agree on everything computed from it. `Memo` names each value by how it was
computed: a tag (the module, or what an expression does) and the names of its inputs, so that
equal names are equal tensors, for every `sharing` of the weights. Before the first batch it
runs the architectures without tensors (`planning`) to count the uses of each name; on each
batch a value that is used again is kept until its last use, within `budget` bytes, and every
other value is computed and dropped as in `forward(x, arch)`. A network opts in with
`forward_memo(memo, x, arch)`, the same operations as `forward(x, arch)` in the same order,
so the logits are the same tensors (tests/enas_core/test_memo.py).
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Hashable

import torch
import torch.nn.functional as F
from torch import nn

# A value: its name (an int) and its tensor, None while planning.
Handle = tuple[int, torch.Tensor | None]

# What the kept values may hold at once. The quick preset's ranking on digits keeps at most
# 270 MiB (40 candidates, batches of 128 x 16 x 28 x 28 float32: 6.4 MB a tensor at the first
# cells' resolution, where with `sharing="cell"` equal nodes of different candidates are one
# value); larger networks and batches would keep more. A value past the budget is computed
# again by each user: slower, never different.
MEMO_BUDGET_BYTES = 512 * 2**20

add = operator.add  # a tag for the sums of two values


class Memo:
    def __init__(self, budget_bytes: int = MEMO_BUDGET_BYTES) -> None:
        self.budget = budget_bytes
        self.planning = True
        self._names: dict[tuple[Hashable, ...], int] = {}
        self._uses: Counter[int] = Counter()
        self._left: dict[int, int] = {}
        self._kept: dict[int, torch.Tensor] = {}
        self._bytes = 0
        self.peak_bytes = 0  # the most the kept values held at once
        self.computed = self.reused = 0  # of the values asked for since the plan

    def input(self, x: torch.Tensor | None = None) -> Handle:
        """The batch's handle; `x` None while planning."""
        return self._name(("input",)), x

    def batch(self, x: torch.Tensor) -> Handle:
        """Starts a batch (ending the plan): forgets the previous batch's values."""
        self.planning = False
        self._kept.clear()
        self._bytes = 0
        self._left = dict(self._uses)
        return self.input(x)

    def _name(self, parts: tuple[Hashable, ...]) -> int:
        return self._names.setdefault(parts, len(self._names))

    def __call__(self, tag: Hashable, fn: Callable[..., torch.Tensor],
                 *inputs: Handle) -> Handle:
        """`fn(*tensors of inputs)`, named by `tag` and the inputs' names: `tag` must say
        everything about `fn` that its inputs do not."""
        name = self._name((tag, *(n for n, _ in inputs)))
        if self.planning:
            self._uses[name] += 1
            return name, None
        left = self._left.get(name, 1) - 1
        self._left[name] = left
        value = self._kept.get(name)
        if value is not None:
            self.reused += 1
            if left <= 0:
                del self._kept[name]
                self._bytes -= _nbytes(value)
            return name, value
        self.computed += 1
        value = fn(*(t for _, t in inputs))
        size = _nbytes(value)
        if left > 0 and self._bytes + size <= self.budget:
            self._kept[name] = value
            self._bytes += size
            self.peak_bytes = max(self.peak_bytes, self._bytes)
        return name, value

    def module(self, module: nn.Module, x: Handle) -> Handle:
        """`module(x)`; the ReLU that a module starts with (`after_relu`, layers.py) is shared
        with the other modules that read `x` (each cell state is read by several ops, and
        each cell's output by the next two cells)."""
        after_relu = getattr(module, "after_relu", None)
        if after_relu is None:
            return self(module, module, x)
        return self((module, "after_relu"), after_relu, self(F.relu, F.relu, x))

    @property
    def kept_bytes(self) -> int:
        return self._bytes


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()
