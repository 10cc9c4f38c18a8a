"""The macro space's architectures as data: per layer, the op index into `MACRO_PRIMITIVES`,
then one 0/1 skip flag for each earlier layer (layer i has i flags), as in the ENAS reference
code's fixed architectures. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...architecture import ArchitectureError, parse_ints

# The macro ops' names (the ENAS reference code's numbering); `ops.MACRO_OPS` builds each,
# `costs.MACRO_OP_COSTS` prices each.
MACRO_PRIMITIVES: tuple[str, ...] = (
    "conv_3x3",
    "sep_conv_3x3",
    "conv_5x5",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
)

_MACRO_OP_LIST = ", ".join(f"{i} {name}" for i, name in enumerate(MACRO_PRIMITIVES))


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
        values = parse_ints(text, "macro architecture")
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
        """A notebook shows the architecture as a picture (the space's drawing)."""
        from ..base import space_of

        return space_of(self).draw(self)

    def __str__(self) -> str:
        return self.to_text()
