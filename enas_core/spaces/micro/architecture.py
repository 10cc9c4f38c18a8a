"""The micro space's architectures as data: per cell, 4 integers per node, `input op input
op`. Inputs 0 and 1 are the cell's two inputs (the outputs of the cell before the previous one,
and of the previous one); input k >= 2 is node k-2 of the same cell. Ops index `PRIMITIVES`
(ENAS numbering). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...architecture import ArchitectureError, parse_ints

# The micro ops' names; their index is the op's number in the integer form. This is the original
# ENAS numbering (0..4), so integer architectures from the ENAS papers read the same here.
# `ops.OPS` builds each, `costs.OP_COSTS` prices each.
PRIMITIVES: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
    "identity",
)


@dataclass(frozen=True)
class Node:
    in1: int
    op1: int
    in2: int
    op2: int


@dataclass(frozen=True)
class Cell:
    nodes: tuple[Node, ...]

    def to_ints(self) -> list[int]:
        return [v for n in self.nodes for v in (n.in1, n.op1, n.in2, n.op2)]

    def to_text(self) -> str:
        return " ".join(map(str, self.to_ints()))

    def to_ops(self) -> list[list[int | str]]:
        return [[n.in1, PRIMITIVES[n.op1], n.in2, PRIMITIVES[n.op2]] for n in self.nodes]

    def loose_ends(self) -> list[int]:
        """Nodes no other node reads: their outputs are concatenated as the cell's output."""
        used = {i - 2 for n in self.nodes for i in (n.in1, n.in2) if i >= 2}
        return [j for j in range(len(self.nodes)) if j not in used]


@dataclass(frozen=True)
class MicroArchitecture:
    conv: Cell
    reduce: Cell
    space = "micro"

    @property
    def nodes(self) -> int:
        return len(self.conv.nodes)

    @classmethod
    def parse(cls, conv: str | Sequence[int], reduce: str | Sequence[int],
              nodes: int | None = None) -> MicroArchitecture:
        conv_cell = parse_cell(conv, "conv", nodes)
        reduce_cell = parse_cell(reduce, "reduce", nodes if nodes else len(conv_cell.nodes))
        return cls(conv_cell, reduce_cell)

    def to_text(self) -> tuple[str, str]:
        return self.conv.to_text(), self.reduce.to_text()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MicroArchitecture:
        """From `to_json` output; the integers, the text or the op names of each cell do."""
        nodes = data.get("nodes")
        conv = _cell_from_json(data, "conv", nodes)
        return cls(conv, _cell_from_json(data, "reduce", nodes or len(conv.nodes)))

    def to_json(self) -> dict[str, Any]:
        return {
            "space": "micro",
            "nodes": self.nodes,
            "conv": self.conv.to_ints(),
            "reduce": self.reduce.to_ints(),
            "conv_text": self.conv.to_text(),
            "reduce_text": self.reduce.to_text(),
            "conv_ops": self.conv.to_ops(),
            "reduce_ops": self.reduce.to_ops(),
        }

    def _repr_svg_(self) -> str:
        """A notebook shows the architecture as a picture (the space's drawing)."""
        from ..base import space_of

        return space_of(self).draw(self)

    def __str__(self) -> str:
        return f"conv: {self.conv.to_text()} | reduce: {self.reduce.to_text()}"


def parse_cell(value: str | Sequence[int], which: str, nodes: int | None = None) -> Cell:
    """Parse one cell's integers; `which` ("conv" or "reduce") names the cell in errors."""
    what = f"{which} cell"
    values = parse_ints(value, what)
    if not values:
        raise ArchitectureError(f"{what} is empty: give 4 integers per node (input op input op)")
    if len(values) % 4:
        raise ArchitectureError(
            f"{what} has {len(values)} integers; it needs 4 per node (input op input op), "
            f"so a multiple of 4"
        )
    if nodes is not None and len(values) != 4 * nodes:
        raise ArchitectureError(
            f"{what} has {len(values)} integers for {len(values) // 4} nodes; "
            f"expected {nodes} nodes ({4 * nodes} integers)"
        )
    out = []
    for node in range(len(values) // 4):
        chunk = values[4 * node : 4 * node + 4]
        for k, v in enumerate(chunk):
            pos = 4 * node + k
            slot = ("first input", "first op", "second input", "second op")[k]
            where = f"{what}, position {pos} (node {node}, {slot})"
            if k % 2 == 0 and not 0 <= v < node + 2:
                raise ArchitectureError(
                    f"{where}: input {v} does not exist yet; node {node} can read inputs "
                    f"0..{node + 1} (0 and 1 are the cell inputs, k >= 2 is node k-2)"
                )
            if k % 2 == 1 and not 0 <= v < len(PRIMITIVES):
                ops = ", ".join(f"{i} {name}" for i, name in enumerate(PRIMITIVES))
                raise ArchitectureError(f"{where}: {v} is not an op; ops are {ops}")
        out.append(Node(*chunk))
    return Cell(tuple(out))


def _cell_from_json(data: dict[str, Any], key: str, nodes: int | None) -> Cell:
    if key in data:
        return parse_cell(data[key], key, nodes)
    text = data.get(f"{key}_text")
    if text is not None:
        return parse_cell(text, key, nodes)
    ops = data.get(f"{key}_ops")
    if ops is None:
        raise ArchitectureError(f"architecture JSON lacks the {key!r} cell")
    flat: list[int] = []
    for node, entry in enumerate(ops):
        if not isinstance(entry, list | tuple) or len(entry) != 4:
            raise ArchitectureError(
                f"{key}_ops[{node}] must be [input, op, input, op], got {entry!r}"
            )
        for k, v in enumerate(entry):
            if k % 2 == 1 and isinstance(v, str):
                if v not in PRIMITIVES:
                    raise ArchitectureError(
                        f"{key}_ops[{node}][{k}]: unknown op {v!r}; "
                        f"ops are {', '.join(PRIMITIVES)}"
                    )
                v = PRIMITIVES.index(v)
            flat.append(v)
    return parse_cell(flat, key, nodes)
