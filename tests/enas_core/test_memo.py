"""Ranking many architectures batch-major (enas_core/memo.py, `Searcher.evaluate_many`): the
work they share is done once, and every accuracy is the one its own evaluation gives."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from enas_core.architecture import Architecture
from enas_core.config import ModelConfig
from enas_core.memo import Memo
from enas_core.runtime import Cancelled
from enas_core.search import Searcher
from enas_core.spaces import build_search_model, random_architecture

from .helpers import tiny_run


def memo_logits(model: torch.nn.Module, batches: list[torch.Tensor], archs: list[Architecture],
                memo: Memo) -> list[list[torch.Tensor]]:
    for arch in archs:
        model.forward_memo(memo, memo.input(), arch)
    out = []
    for x in batches:
        handle = memo.batch(x)
        out.append([model.forward_memo(memo, handle, arch)[1] for arch in archs])
    return out


@pytest.mark.parametrize(("space", "sharing"), [("micro", "edge"), ("micro", "node"),
                                                ("micro", "cell"), ("macro", "edge")])
def test_memo_gives_the_logits_of_forward(space, sharing):
    torch.manual_seed(0)
    config = ModelConfig(space=space, layers=3, channels=4, nodes=3, sharing=sharing)
    model = build_search_model(config, 1, 5).eval()
    rng = random.Random(0)
    archs = [random_architecture(config, rng) for _ in range(6)]
    archs.append(archs[2])  # a repeat is computed once and read twice
    batches = [torch.randn(8, 1, 12, 12), torch.randn(8, 1, 12, 12)]
    for budget in (Memo().budget, 0):
        memo = Memo(budget)
        with torch.no_grad():
            got = memo_logits(model, batches, archs, memo)
            want = [[model(x, arch) for arch in archs] for x in batches]
        for row_got, row_want in zip(got, want, strict=True):
            for g, w in zip(row_got, row_want, strict=True):
                assert torch.equal(g, w)
        if budget:
            # The stem at least is computed once per batch, not once per architecture.
            assert memo.reused >= 2 * (len(archs) - 1)
        else:
            assert memo.reused == 0 and memo.kept_bytes == 0


def test_what_the_architectures_share_is_computed_once_and_dropped_after_its_last_use():
    torch.manual_seed(0)
    config = ModelConfig(layers=3, channels=4, nodes=3, sharing="cell")
    model = build_search_model(config, 1, 5).eval()
    rng = random.Random(1)
    archs = [random_architecture(config, rng) for _ in range(8)]
    memo = Memo()
    with torch.no_grad():
        memo_logits(model, [torch.randn(4, 1, 12, 12)], archs, memo)
    calls = memo.computed + memo.reused
    # Each forward asks for the stem, 5 cells' worth of ops and the head: the stem, the first
    # cell's preprocessing and its ops on them are asked for by all 8, computed once.
    assert memo.reused >= 3 * (len(archs) - 1)
    assert memo.computed < calls - memo.reused + 1
    assert memo.kept_bytes == 0  # nothing outlives its last use


@pytest.fixture
def searcher(digits) -> Searcher:
    config = replace(tiny_run(search_epochs=1).search, num_candidates=4, eval_batches=1)
    return Searcher(config, digits, seed=0)


def test_ranking_many_gives_each_the_accuracy_of_its_own_evaluation(searcher):
    archs = searcher.uniform("test")(6)
    archs.insert(3, archs[1])
    want = searcher.evaluate_many(archs, shared=False)  # each through the whole network
    assert len(set(want)) > 1  # distinct accuracies: the comparison means something
    assert searcher.evaluate_many(archs) == want
    assert searcher.evaluate(archs[4]) == want[4]
    assert searcher.evaluate_many([]) == []  # hard limits can leave nothing to rank


@pytest.mark.slow  # the first derive of a session times its latency table
def test_derive_puts_each_validation_batch_through_the_stem_once(searcher):
    calls: list[int] = []
    searcher.model.stem.register_forward_hook(lambda *_: calls.append(1))
    searcher.derive()
    # Before batch-major ranking: once per batch per candidate (8 here).
    assert len(calls) == searcher.config.eval_batches
    ranked = searcher.ranked + searcher.control_ranked
    assert len(ranked) >= searcher.config.num_candidates
    alone = searcher.evaluate_many([c.arch for c in ranked], shared=False)
    assert [c.val_acc for c in ranked] == alone


def test_ranking_stops_when_asked(searcher):
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(Cancelled):
        searcher.evaluate_many(searcher.uniform("test")(4), stop)
