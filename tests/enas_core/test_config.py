"""Configs rebuilt from their JSON form: every nested config comes back as its dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

from enas_core.config import RunConfig, from_dict, to_dict


@dataclass(frozen=True)
class Inner:
    size: int = 1


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    seed: int = 0


def test_a_new_nested_config_is_rebuilt_without_being_listed_anywhere():
    """A hand-kept table of nested fields would pass these dicts through unchanged."""
    again = from_dict(Outer, {"inner": {"size": 2}, "maybe": {"size": 3}, "seed": 4})
    assert again == Outer(Inner(2), Inner(3), 4)
    assert from_dict(Outer, {"maybe": None}) == Outer()


def test_every_nested_run_config_comes_back_as_its_dataclass():
    def walk(config: object) -> list[str]:
        """The dotted names of the fields that hold a dict where a dataclass should be."""
        out = []
        for f in fields(config):
            value = getattr(config, f.name)
            if is_dataclass(value):
                out += [f"{f.name}.{name}" for name in walk(value)]
            elif isinstance(value, dict) and isinstance(f.default_factory, type) \
                    and is_dataclass(f.default_factory):
                out.append(f.name)
        return out

    config = RunConfig()
    again = from_dict(RunConfig, to_dict(config))
    assert again == config
    assert walk(again) == []
