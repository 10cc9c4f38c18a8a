"""The micro space's prior (enas_core/spaces/micro/prior.py): its features, that the shipped fit
is the one bench/prior.py makes from the committed tables, and that it ranks a table it was not
fitted on."""

import json
import random

import pytest

from bench import prior as fitting
from bench.ranking import read_table
from enas_core.config import ModelConfig
from enas_core.spaces import prior_score, random_architecture
from enas_core.spaces.micro.architecture import MicroArchitecture
from enas_core.spaces.micro.prior import FIT, features


def test_features_are_each_cells_op_shares_at_any_size():
    arch = MicroArchitecture.parse("0 0 1 0  0 3 2 4", "0 1 1 1  2 2 0 2")  # B = 2
    assert features(arch) == [0.5, 0, 0, 0.25, 0.25, 0, 0.5, 0.5, 0, 0]
    rng = random.Random(0)
    for nodes in (3, 5, 7):
        a = random_architecture(ModelConfig(nodes=nodes), rng)
        f = features(a)
        assert sum(f[:5]) == pytest.approx(1) and sum(f[5:]) == pytest.approx(1)
        assert isinstance(prior_score(a), float)


def test_the_prior_prefers_what_both_tables_agree_on():
    # the shipped weights: max pools in the conv cell help, sep conv 3x3s there do not
    maxes = MicroArchitecture.parse("0 3 1 3  0 3 1 3  2 3 3 3  0 3 4 3  5 3 1 3",
                                    "0 1 1 1  0 1 1 1  0 1 1 1  0 1 1 1  0 1 1 1")
    seps = MicroArchitecture.parse("0 0 1 0  0 0 1 0  2 0 3 0  0 0 4 0  5 0 1 0",
                                   "0 1 1 1  0 1 1 1  0 1 1 1  0 1 1 1  0 1 1 1")
    assert prior_score(maxes) > 0 > prior_score(seps)


def test_a_macro_architecture_has_no_prior():
    arch = random_architecture(ModelConfig(space="macro", layers=4), random.Random(0))
    assert prior_score(arch) is None


def test_the_shipped_fit_is_the_one_the_tables_give():
    shipped = json.loads(FIT.read_text())
    tables = [read_table(name, None)[1] for name in fitting.DATASETS]
    refit = fitting.fit(tables)
    assert shipped["rows"] == refit["rows"] == sum(len(t) for t in tables)
    for key in ("mean", "std", "weights"):
        assert shipped[key] == pytest.approx(refit[key], abs=1e-9)


def test_fitted_on_one_table_it_ranks_the_other_and_lifts_the_stages_pick():
    """What justifies the pool's order: on a dataset it never saw, tau well above chance, and
    the stage on the prior's 8 of 20 picks better than on 8 as they come."""
    rows = {name: read_table(name, None)[1] for name in fitting.DATASETS}
    got = fitting.evaluate(rows)
    for name in fitting.DATASETS:
        assert got[name]["kendall_tau"] > 0.2, name
        assert got[name]["kendall_tau_ci95"][0] > 0, name
        pick = got[name]["pick"]["percentile"]
        assert pick["stage_prior_pool"] > pick["stage_uniform_pool"] + 4, name
        assert pick["prior_alone"] > 60, name
        gain = got[name]["pick"]["points_over_random"]
        assert gain["stage_prior_pool"] > gain["stage_uniform_pool"] > 0, name
