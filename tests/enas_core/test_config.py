"""Configs rebuilt from their JSON form: every nested config comes back as its dataclass, and a
job's config stored by an earlier release is brought up to this one's."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import pytest

from enas_core import config_migrations as migrations
from enas_core.config import RunConfig, from_dict, to_dict
from enas_core.stage_rule import stage_of
from tests.enas_core.helpers import previous_release_config


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


# -- stored configs across releases (enas_core.config_migrations) -----------------------------

def subset(part: Any, whole: Any, at: str = "") -> list[str]:
    """Where `whole` differs from `part` on the keys `part` has."""
    if isinstance(part, dict):
        return [p for k, v in part.items()
                for p in (subset(v, whole.get(k), f"{at}{k}.") if k in whole else [at + k])]
    return [] if part == whole else [at.rstrip(".")]


def test_a_config_stored_by_the_previous_release_loads_with_every_value_it_had():
    data = previous_release_config()
    assert migrations.VERSION_KEY not in data
    config = migrations.load_stored(data)
    assert (config.search.epochs, config.seed, config.baseline) == (3, 7, "random")
    assert config.search.constraints.max_params == 200_000
    assert config.search.constraints.mode == "soft"
    assert config.search.shared_sampling == "uniform"
    assert subset(data, to_dict(config)) == []  # fields added since take their defaults
    assert migrations.stored(config)[migrations.VERSION_KEY] == migrations.CONFIG_VERSION


def test_a_stored_config_carries_its_version_and_reads_back():
    config = from_dict(RunConfig, previous_release_config())
    data = migrations.stored(config)
    assert data == {**to_dict(config), "config_version": migrations.CONFIG_VERSION}
    assert migrations.load_stored(data) == config
    assert migrations.shown(data) == to_dict(config)  # what GET /jobs/{id} shows


def test_a_config_from_a_newer_release_is_refused_naming_both_versions():
    data = {**previous_release_config(), "config_version": migrations.CONFIG_VERSION + 1}
    with pytest.raises(migrations.StoredConfigError) as err:
        migrations.load_stored(data)
    assert str(err.value) == (
        f"the job's config was stored by a newer release (config_version "
        f"{migrations.CONFIG_VERSION + 1}; this release reads up to "
        f"{migrations.CONFIG_VERSION}): run it on a worker of that release or later")
    assert migrations.shown(data) == previous_release_config()


@pytest.mark.parametrize("version", [0, -1, "2", True, 1.5])
def test_a_bad_version_is_refused_saying_what_it_must_be(version):
    with pytest.raises(migrations.StoredConfigError, match="must be a positive integer"):
        migrations.load_stored({**previous_release_config(), "config_version": version})


def test_fields_no_step_accounts_for_are_refused_naming_their_path():
    data = previous_release_config()
    data["search"]["model"]["width_multiplier"] = 2
    with pytest.raises(migrations.StoredConfigError) as err:
        migrations.load_stored(data)
    assert str(err.value) == ("the job's config (config_version 1) does not fit this release: "
                              "unknown ModelConfig field(s): search.model.width_multiplier")


def test_steps_run_from_the_stored_version_up(monkeypatch, caplog):
    """A release that renamed `search.n_epochs` (version 2) and then removed `train.legacy`
    (version 3): a version-1 config goes through both steps, a version-2 one through the
    second only, and a removed option that was set is logged."""
    steps = [lambda d: migrations.move(d, "search.n_epochs", "search.epochs"),
             lambda d: migrations.drop(d, "train.legacy", default=False)]
    monkeypatch.setattr(migrations, "MIGRATIONS", steps)
    monkeypatch.setattr(migrations, "CONFIG_VERSION", 3)
    v1 = previous_release_config()
    v1["search"]["n_epochs"] = v1["search"].pop("epochs")
    v1["train"]["legacy"] = True
    with caplog.at_level(logging.WARNING, logger=migrations.__name__):
        config = migrations.load_stored(v1)
    assert config == migrations.load_stored(previous_release_config())
    assert "n_epochs" in v1["search"]  # the stored dict is not changed
    assert [r.getMessage() for r in caplog.records] == [
        "stored config: train.legacy=True dropped (the option was removed; it ran with False "
        "when not set)"]
    # Version 2 already has the new name: the rename is not applied again.
    v2 = {**previous_release_config(), "config_version": 2}
    v2["search"]["n_epochs"] = 9
    with pytest.raises(migrations.StoredConfigError, match=r"search\.n_epochs"):
        migrations.load_stored(v2)
    assert migrations.stored(config)["config_version"] == 3


def test_a_version_1_job_that_left_the_stage_unset_still_runs_without_it():
    """Version 2 made an unset `select.candidates` automatic (on where the stage costs at most
    a quarter of the final training: 50 epochs of the quick preset's network); a job
    stored before ran without the stage unless it asked for one."""
    v1 = previous_release_config()  # stored before the stage existed: no `select` at all
    v1["train"]["epochs"] = 50
    assert stage_of(migrations.load_stored(v1)).candidates == 0
    assert "select" not in v1  # the stored dict is not changed
    v1["select"] = {"candidates": 4, "epochs": 2}
    assert stage_of(migrations.load_stored(v1)).candidates == 4
    v2 = {**previous_release_config(), "config_version": 2}
    v2["train"]["epochs"] = 50
    assert stage_of(migrations.load_stored(v2)).candidates == 8


def test_each_version_but_the_first_has_its_step():
    assert len(migrations.MIGRATIONS) == migrations.CONFIG_VERSION - 1
