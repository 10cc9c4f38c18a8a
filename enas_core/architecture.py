"""Architectures as data: strict parsers and printers for the ENAS integer forms and JSON.

Each space (`spaces/`) owns its architecture type; `spaces.arch_from_json` reads any of them.

Micro: per cell, 4 integers per node, `input op input op`. Inputs 0 and 1 are the cell's two
inputs (the outputs of the cell before the previous one, and of the previous one); input k >= 2
is node k-2 of the same cell. Ops index `PRIMITIVES` (ENAS numbering).

Macro: per layer, the op index into `MACRO_PRIMITIVES`, then one 0/1 skip flag for each earlier
layer (layer i has i flags), as in the ENAS reference code's fixed architectures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

# The micro ops' names; their index is the op's number in the integer form. This is the original
# ENAS numbering (0..4), so integer architectures from the ENAS papers read the same here.
# `ops.OPS` builds each, `spaces.micro.OP_COSTS` prices each.
PRIMITIVES: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
    "identity",
)

# The macro ops' names (the ENAS reference code's numbering); `macro.MACRO_OPS` builds each,
# `spaces.macro.MACRO_OP_COSTS` prices each.
MACRO_PRIMITIVES: tuple[str, ...] = (
    "conv_3x3",
    "sep_conv_3x3",
    "conv_5x5",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
)

_MACRO_OP_LIST = ", ".join(f"{i} {name}" for i, name in enumerate(MACRO_PRIMITIVES))


class ArchitectureError(ValueError):
    """A malformed architecture; the message says which position is wrong and why."""


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
        """A notebook shows the architecture as a picture (`enas_core.draw`)."""
        from .draw import draw_micro

        return draw_micro(self)

    def __str__(self) -> str:
        return f"conv: {self.conv.to_text()} | reduce: {self.reduce.to_text()}"


@dataclass(frozen=True)
class MacroArchitecture:
    ops: tuple[int, ...]
    skips: tuple[tuple[int, ...], ...]  # skips[i] has i flags: layer i reads layer j when 1
    space = "macro"

    @property
    def layers(self) -> int:
        return len(self.ops)

    @classmethod
    def parse(cls, text: str | Sequence[int], layers: int | None = None) -> MacroArchitecture:
        values = _to_ints(text, "macro architecture")
        ops: list[int] = []
        skips: list[tuple[int, ...]] = []
        pos = 0
        while pos < len(values):
            layer = len(ops)
            op = values[pos]
            if not 0 <= op < len(MACRO_PRIMITIVES):
                raise ArchitectureError(
                    f"macro architecture, position {pos} (layer {layer} op): {op} is not an op; "
                    f"ops are {_MACRO_OP_LIST}"
                )
            flags = values[pos + 1 : pos + 1 + layer]
            if len(flags) < layer:
                raise ArchitectureError(
                    f"macro architecture ends inside layer {layer}: it needs 1 op and {layer} "
                    f"skip flags, got {1 + len(flags)} integer(s) from position {pos}"
                )
            for k, flag in enumerate(flags):
                if flag not in (0, 1):
                    raise ArchitectureError(
                        f"macro architecture, position {pos + 1 + k} (layer {layer} skip from "
                        f"layer {k}): {flag} is not a skip flag; use 0 or 1"
                    )
            ops.append(op)
            skips.append(tuple(flags))
            pos += 1 + layer
        if not ops:
            raise ArchitectureError("macro architecture is empty")
        if layers is not None and len(ops) != layers:
            need = layers * (layers + 1) // 2
            raise ArchitectureError(
                f"macro architecture has {len(ops)} layers, expected {layers} "
                f"({need} integers: per layer i, an op and i skip flags)"
            )
        return cls(tuple(ops), tuple(skips))

    def to_ints(self) -> list[int]:
        return [v for op, flags in zip(self.ops, self.skips, strict=True) for v in (op, *flags)]

    def to_text(self) -> str:
        return " ".join(map(str, self.to_ints()))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MacroArchitecture:
        """From `to_json` output: its integers (`arc`) or `text`."""
        value = data.get("arc", data.get("text"))
        if value is None:
            raise ArchitectureError("macro architecture JSON needs 'arc' (integers) or 'text'")
        return cls.parse(value, data.get("layers"))

    def to_json(self) -> dict[str, Any]:
        return {
            "space": "macro",
            "layers": self.layers,
            "arc": self.to_ints(),
            "text": self.to_text(),
            "layer_ops": [
                {"op": MACRO_PRIMITIVES[op], "skips": [j for j, f in enumerate(flags) if f]}
                for op, flags in zip(self.ops, self.skips, strict=True)
            ],
        }

    def _repr_svg_(self) -> str:
        """A notebook shows the architecture as a picture (`enas_core.draw`)."""
        from .draw import draw_macro

        return draw_macro(self)

    def __str__(self) -> str:
        return self.to_text()


class Architecture(Protocol):
    """What every space's architecture type is: frozen data that prints and reads itself
    (`str(arch)` names it uniquely within its space)."""

    space: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...


def _to_ints(value: str | Iterable[int], what: str) -> list[int]:
    if isinstance(value, str):
        tokens = value.replace(",", " ").split()
        out = []
        for pos, tok in enumerate(tokens):
            try:
                out.append(int(tok))
            except ValueError:
                raise ArchitectureError(
                    f"{what}, position {pos}: {tok!r} is not an integer"
                ) from None
        return out
    out = []
    for pos, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ArchitectureError(f"{what}, position {pos}: {v!r} is not an integer")
        out.append(v)
    return out


def parse_cell(value: str | Sequence[int], which: str, nodes: int | None = None) -> Cell:
    """Parse one cell's integers; `which` ("conv" or "reduce") names the cell in errors."""
    what = f"{which} cell"
    values = _to_ints(value, what)
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
