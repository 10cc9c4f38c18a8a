import pytest
import torch
from scipy.stats import rankdata, spearmanr

from enas_core.latency import spearman
from enas_core.ranks import ranks


def test_ranks_and_spearman_agree_with_scipy_on_ties():
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        a = torch.randint(0, 4, (7,), generator=gen).tolist()
        b = torch.randint(0, 4, (7,), generator=gen).tolist()
        assert ranks(a) == rankdata(a).tolist()
        if len(set(a)) > 1 and len(set(b)) > 1:
            assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
