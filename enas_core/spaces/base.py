"""What a search space is, and the registry of them (in the manner of timm's model registry:
registered by name when their module is imported, a second one under a name refused).

A space owns its architecture type and its parsing, its controller, its search network, its
final network, and one walk over the final network (`pieces`) from which its parameters,
multiply-adds, weight tensors and latency-table keys come; `replay` walks it again for the
activations' memory. Nothing outside a space's own folder branches on its name or imports its
modules: the engine reaches a space through this registry.

Torch-free at import: the modules are imported by the methods that build them.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..architecture import Architecture, ArchitectureError
from ..config import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from ..config import ControllerConfig, ModelConfig
    from ..opcosts import Heap, Key, NetOp, OpCost

InputShape = tuple[int, int, int]  # (C, H, W)


class SearchSpace(ABC):
    name: ClassVar[str]
    architecture: ClassVar[type]  # its architecture dataclass; `architecture.space == name`
    # The integer lists of its text form, named (the CLI's --arc, --reduce-arc read them).
    text_parts: ClassVar[tuple[str, ...]]
    summary_keys: ClassVar[tuple[str, ...]]  # the keys of `summary`, which no other space uses
    rank: ClassVar[int] = 100  # where it is listed (the default space first)
    primitives: ClassVar[tuple[str, ...]]  # its ops' names; an op's index is its number
    op_costs: ClassVar[Mapping[str, OpCost]]  # what each op costs, without building it

    # -- network configs --

    @abstractmethod
    def size(self, model: ModelConfig) -> int:
        """What the config fixes of its architectures: micro nodes, macro layers."""

    @abstractmethod
    def arch_size(self, arch: Any) -> int:
        """The same of an architecture."""

    @abstractmethod
    def sized(self, model: ModelConfig, size: int) -> ModelConfig:
        """`model` in this space, with architectures of `size`."""

    def prior(self, arch: Any) -> float | None:
        """A score of how well `arch` tends to train before any training (higher: better),
        learned from this space's ground-truth tables; None where the space has none."""
        return None

    def check(self, model: ModelConfig) -> None:  # noqa: B027 - most spaces build any config
        """A ConfigError (naming the field) if this space cannot build `model`."""

    def describe(self, model: ModelConfig) -> str:
        """The config in a few words, for messages."""
        return f"{model.layers} layers, {model.channels} channels"

    def fit(self, arch: Any, model: ModelConfig) -> ModelConfig:
        """The network config with the space and size the architecture dictates."""
        self.own(arch)
        return self.sized(model, self.arch_size(arch))

    def fit_config(self, model: ModelConfig, searched: ModelConfig) -> ModelConfig:
        """`model` with the size of the architectures a search under `searched` finds."""
        return self.sized(model, self.size(searched))

    def check_fits(self, arch: Any, model: ModelConfig) -> None:
        """A clear error when an architecture and a network config disagree."""
        if arch.space != model.space:
            raise ArchitectureError(
                f"a {arch.space} architecture cannot build a {model.space} network")

    def own(self, arch: Any) -> None:
        if not isinstance(arch, self.architecture):
            raise ArchitectureError(f"not a {self.name} architecture: {arch!r}")

    # -- architectures --

    @abstractmethod
    def parse(self, *texts: str) -> Any:
        """An architecture from its text form, one string per `text_parts`."""

    def from_json(self, data: dict[str, Any]) -> Any:
        return self.architecture.from_json(data)

    @abstractmethod
    def summary(self, arch: Any) -> dict[str, Any]:
        """The compact form kept in per-epoch history (text only, no op names)."""

    @abstractmethod
    def from_summary(self, data: dict[str, Any]) -> Any: ...

    @abstractmethod
    def text_lines(self, arch_json: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, text) lines to print an architecture's JSON form."""

    @abstractmethod
    def draw(self, arch: Any, *, title: str | None = None) -> str:
        """An SVG picture of an architecture (drawn with `enas_core.draw`'s primitives)."""

    @abstractmethod
    def smallest(self, size: int) -> Any:
        """The architecture with the fewest parameters and multiply-adds."""

    @abstractmethod
    def largest(self, size: int) -> Any:
        """One of the most expensive architectures (a reference for the latency table)."""

    @abstractmethod
    def random(self, model: ModelConfig, rng: random.Random,
               op: Callable[[int], int] | None = None) -> Any:
        """A uniformly random architecture of the config's size; with `op`, the op of its
        k-th op choice (counted in the order the space makes them) is `op(k)`."""

    def fair(self, model: ModelConfig, rng: random.Random) -> list[Any]:
        """FairNAS's group (Chu et al. 2021): as many random architectures as the space has
        ops, in which every op choice takes each op exactly once (a shuffle per choice); the
        other choices (inputs, skips) uniform."""
        n = len(self.primitives)
        shuffles: dict[int, list[int]] = {}

        def op_of(member: int) -> Callable[[int], int]:
            def op(k: int) -> int:
                if k not in shuffles:
                    shuffles[k] = rng.sample(range(n), n)
                return shuffles[k][member]
            return op

        return [self.random(model, rng, op_of(member)) for member in range(n)]

    @abstractmethod
    def probes(self, model: ModelConfig) -> list[Any]:
        """Architectures that between them run every piece the config can have at every place
        it can have it (the latency table times pieces inside them)."""

    # -- modules (torch) --

    @abstractmethod
    def op_modules(self) -> Mapping[str, Callable[..., nn.Module]]:
        """What builds each op, by name (the table its networks build their ops from)."""

    @abstractmethod
    def build_controller(self, model: ModelConfig, config: ControllerConfig) -> nn.Module: ...

    @abstractmethod
    def build_search_network(self, model: ModelConfig, in_channels: int,
                             num_classes: int) -> nn.Module: ...

    @abstractmethod
    def build_network(self, arch: Any, model: ModelConfig, in_channels: int,
                      num_classes: int) -> nn.Module: ...

    # -- the final network, walked once: costs and latency --

    @abstractmethod
    def pieces(self, arch: Any, model: ModelConfig, input_shape: InputShape,
               num_classes: int) -> list[NetOp]:
        """Every piece of the final network (`model` fitted to `arch`) in execution order,
        with its weights and multiply-adds; those that do not run at inference last."""

    @abstractmethod
    def replay(self, heap: Heap, arch: Any, model: ModelConfig, input_shape: InputShape,
               num_classes: int) -> None:
        """The final network's eval-mode forward pass, its allocations and frees in the order
        its Python code makes them, on `heap`."""

    @abstractmethod
    def table_keys(self, model: ModelConfig, input_shape: InputShape,
                   num_classes: int) -> list[Key]:
        """Every key `pieces` can produce for this (fitted) config, in a fixed order."""

    def op_module(self, key: Key, batch_size: int) -> tuple[nn.Module, InputShape]:
        """A module running the piece `key` names alone, and its input's shape (one image).
        Spaces name their own pieces and leave the common ones (add, head) to this."""
        from .. import piece_modules

        kind = key[0]
        if kind == "add":
            _, c, h, w = key
            return piece_modules.Add((batch_size, c, h, w)), (c, h, w)
        if kind == "head":
            _, c, num_classes, h, w = key
            return piece_modules.Head(c, num_classes), (c, h, w)
        raise KeyError(f"no latency-table piece for {key!r} in the {self.name} space")


_SPACES: dict[str, SearchSpace] = {}


def register_space(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator: register one instance of a space under its name."""
    if cls.name in _SPACES:
        raise ValueError(f"a search space named {cls.name!r} is already registered")
    if getattr(cls.architecture, "space", None) != cls.name:
        raise ValueError(f"{cls.__name__}.architecture.space must be {cls.name!r}")
    _SPACES[cls.name] = cls()
    return cls


def unregister_space(name: str) -> None:
    """Forget the space registered as `name` (a space a test or a notebook made for a while)."""
    if _SPACES.pop(name, None) is None:
        raise ValueError(f"no search space named {name!r} is registered")


def space_names() -> tuple[str, ...]:
    return tuple(sorted(_SPACES, key=lambda name: (_SPACES[name].rank, name)))


def get_space(name: str) -> SearchSpace:
    """The space registered as `name`; a ConfigError naming the choices otherwise."""
    space = _SPACES.get(name)
    if space is None:
        raise ConfigError(f"unknown search space {name!r}; spaces: {', '.join(space_names())}",
                          field="space")
    return space


def space_of(arch: Architecture) -> SearchSpace:
    return get_space(arch.space)


def space_for_summary(data: dict[str, Any]) -> SearchSpace:
    """The space whose `summary` has these keys."""
    for space in _SPACES.values():
        if all(k in data for k in space.summary_keys):
            return space
    raise ArchitectureError(f"no search space writes an architecture summary like {data!r}")

