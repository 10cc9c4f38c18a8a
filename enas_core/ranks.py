"""Ranks with ties averaged (as scipy's `rankdata`), for the rank statistics the engine reports
without importing scipy: the latency predictor's Spearman and the selection stage's ranking."""

from __future__ import annotations

from collections.abc import Sequence


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ascending; tied values share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in order[start:end + 1]:
            out[k] = (start + end) / 2 + 1
        start = end + 1
    return out
