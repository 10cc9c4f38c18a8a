"""What every space's architecture is (`Architecture`), its error, and the integer lists the
spaces' text forms are made of. Each space owns its architecture type and its parser
(`spaces/<space>/architecture.py`); `spaces.arch_from_json` reads any of them. Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Protocol


class ArchitectureError(ValueError):
    """A malformed architecture; the message says which position is wrong and why."""


class Architecture(Protocol):
    """What every space's architecture type is: frozen data that prints and reads itself
    (`str(arch)` names it uniquely within its space)."""

    space: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...


def parse_ints(value: str | Iterable[int], what: str) -> list[int]:
    """The integers of an architecture's text form ("1 2 0 3", commas allowed) or of a list;
    `what` names it in errors, which give the position of the first thing not an integer."""
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
