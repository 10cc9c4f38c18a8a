"""A job's config as it is stored, read back by a later release.

The service stores `stored(config)`: `to_dict(RunConfig)` with `config_version`, the version of
that form. A job queued or paused before an upgrade is read with `load_stored`, which brings
the dict up to `CONFIG_VERSION` one step at a time and then rebuilds the `RunConfig`.

The rules (CONTRIBUTING.md, "How to add a job option"):

- adding a field with a default needs nothing: a stored config without it takes the default;
- renaming or removing a field, or changing what its value means, bumps `CONFIG_VERSION` and
  appends a step to `MIGRATIONS` that turns the previous version's dict into the new one
  (`move` and `drop` do the common cases; `drop` logs a warning when the job had set the
  removed option to anything but the value the old default ran with);
- what is still unknown after the steps is an error naming the fields, as is a config of a
  newer version than this release reads: running it without options it asked for would run
  a different search than the one submitted. The worker fails such a job with the message.

Configs stored before versions were (no `config_version`) are version 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .config import ConfigError, RunConfig, from_dict, to_dict

log = logging.getLogger(__name__)

VERSION_KEY = "config_version"
CONFIG_VERSION = 2

Step = Callable[[dict[str, Any]], dict[str, Any]]


def _select_off_when_unset(data: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: an unset `select.candidates` meant 0 (no stage) and now means automatic (on
    where it costs at most a quarter of the final training): a version-1 job that did not set
    it ran without the stage."""
    out = _copy(data)
    select = out.setdefault("select", {})
    if isinstance(select, dict) and select.get("candidates") is None:
        select["candidates"] = 0
    return out


# MIGRATIONS[i] turns version i + 1 into version i + 2: len(MIGRATIONS) == CONFIG_VERSION - 1.
MIGRATIONS: list[Step] = [_select_off_when_unset]


class StoredConfigError(ConfigError):
    """A stored config this release cannot run: from a newer release, or with fields no step
    accounts for."""


def stored(config: RunConfig) -> dict[str, Any]:
    """What the service stores for a job: the config's JSON form and its version."""
    return {**to_dict(config), VERSION_KEY: CONFIG_VERSION}


def version_of(data: dict[str, Any]) -> int:
    version = data.get(VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StoredConfigError(f"the stored config's {VERSION_KEY} must be a positive integer, "
                                f"got {version!r}", field=VERSION_KEY)
    return version


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """The stored dict in this release's form (without its version); `data` is not changed."""
    version = version_of(data)
    if version > CONFIG_VERSION:
        raise StoredConfigError(
            f"the job's config was stored by a newer release ({VERSION_KEY} {version}; this "
            f"release reads up to {CONFIG_VERSION}): run it on a worker of that release or later",
            field=VERSION_KEY)
    out = {k: v for k, v in data.items() if k != VERSION_KEY}
    for step in MIGRATIONS[version - 1:CONFIG_VERSION - 1]:
        out = step(out)
    return out


def load_stored(data: dict[str, Any]) -> RunConfig:
    """The `RunConfig` of a stored job config of this or any earlier version."""
    version = version_of(data)
    current = migrate(data)
    try:
        return from_dict(RunConfig, current)
    except (TypeError, ValueError) as exc:  # ConfigError, or a value of the wrong type
        raise StoredConfigError(
            f"the job's config ({VERSION_KEY} {version}) does not fit this release: {exc}",
            field=getattr(exc, "field", None)) from exc


# -- what steps use ---------------------------------------------------------------------------


def move(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """`data` with the field at dotted path `old` moved to `new` (a rename), if it was set."""
    out = _copy(data)
    *where, name = old.split(".")
    holder = _at(out, where)
    if holder is not None and name in holder:
        value = holder.pop(name)
        *where, name = new.split(".")
        target = out
        for key in where:
            target = target.setdefault(key, {})
        target[name] = value
    return out


def drop(data: dict[str, Any], path: str, *, default: Any) -> dict[str, Any]:
    """`data` without the field at dotted path `path` (a removed option). A value other than
    `default`, what the old release ran with when it was not set, is logged: the job now runs
    without it."""
    out = _copy(data)
    *where, name = path.split(".")
    holder = _at(out, where)
    if holder is not None and name in holder:
        value = holder.pop(name)
        if value != default:
            log.warning("stored config: %s=%r dropped (the option was removed; it ran with %r "
                        "when not set)", path, value, default)
    return out


def _at(data: dict[str, Any], where: list[str]) -> dict[str, Any] | None:
    for key in where:
        data = data.get(key)
        if not isinstance(data, dict):
            return None
    return data


def _copy(data: Any) -> Any:
    return {k: _copy(v) for k, v in data.items()} if isinstance(data, dict) else data


def shown(data: dict[str, Any]) -> dict[str, Any]:
    """A stored config as the API shows it: in this release's form, without its version (what
    `from_dict(RunConfig, ...)` reads). One this release cannot read is shown as stored."""
    try:
        return migrate(data)
    except StoredConfigError:
        return {k: v for k, v in data.items() if k != VERSION_KEY}
