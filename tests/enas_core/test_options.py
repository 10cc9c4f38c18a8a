"""The job options: one table, bounds on every number, errors that name the option."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import pytest

from enas_core import options
from enas_core.config import RunConfig
from enas_core.options import OPTIONS, OptionError, build_config, option_at
from enas_core.presets import preset_config
from enas_core.stage_rule import stage_of


def test_the_table_imports_no_torch():
    code = ("import sys, enas_core.options; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_every_number_is_bounded_and_every_path_exists():
    for option in OPTIONS.values():
        if option.type in (int, float) and option.allowed() is None:
            assert option.minimum is not None and option.maximum is not None, option.name
        for path in option.paths:  # each place is in the config (raises if not)
            value = RunConfig()
            for part in path.split("."):
                value = getattr(value, part)


@pytest.mark.parametrize(
    ("values", "option", "words"),
    [
        ({"layers": 4}, "layers", "multiple of 3"),
        ({"final_layers": 4}, "final_layers", "multiple of 3"),
        ({"search_batch_size": 5000}, "search_batch_size", "at most 4,096"),
        ({"time_limit": math.inf}, "time_limit", "finite"),
        ({"max_params": True}, "max_params", "must be an integer"),
        ({"space": "nano"}, "space", "must be one of micro, macro"),
        ({"learning_rate": 0.1}, "learning_rate", "unknown option"),
    ],
)
def test_errors_name_the_option(values, option, words):
    with pytest.raises(OptionError, match=words) as error:
        build_config(values)
    assert error.value.option == option


def test_an_unknown_preset_is_named():
    with pytest.raises(OptionError, match="unknown preset 'huge'") as error:
        build_config({}, preset="huge")
    assert error.value.option == "preset"


def test_values_land_where_the_table_says():
    config = build_config({"search_batch_size": 64, "nodes": 3, "time_limit": 60,
                           "augment": "crop", "max_flops": 10**7}, preset="quick")
    assert config.search.batch_size == 64
    assert config.search.model.nodes == config.train.model.nodes == 3
    assert config.search.time_limit_s == 60.0
    assert (config.search.augment.crop_padding, config.train.augment.flip) == (4, False)
    assert config.search.constraints.max_flops == 10**7
    # Nothing given: the preset's (or the engine's) config, its automatic stage decided.
    quick = preset_config("quick")
    assert build_config({}, preset="quick") == replace(quick, select=stage_of(quick))
    assert build_config({}) == replace(RunConfig(), select=stage_of(RunConfig()))


def test_the_final_network_takes_the_size_its_architectures_have():
    config = build_config({"space": "macro", "layers": 4})
    assert (config.train.model.space, config.train.model.layers) == ("macro", 4)


def test_option_at_maps_config_places_back_to_options():
    assert option_at("train.model.layers") == "final_layers"
    assert option_at("search.model.layers") == "layers"
    assert option_at("train.model.nodes") == "nodes"
    assert option_at("search.augment.flip") == "augment"
    assert option_at("search.constraints.max_params") == "max_params"
    assert option_at("search.lr_min") is None


def test_defaults_are_read_from_the_config():
    quick = preset_config("quick")
    assert OPTIONS["search_epochs"].default(quick) == quick.search.epochs
    assert OPTIONS["augment"].describe_default(quick) == "none"
    assert OPTIONS["steps_per_epoch"].describe_default(quick) == "one pass over the train split"
    assert options.GROUPS.keys() >= {o.group for o in OPTIONS.values()}
