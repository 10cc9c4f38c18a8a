"""The ETA (`enas_core.progress`), on recorded timelines: no estimate until it can be made from
measured progress, then one within a factor 1.5 of the time the run really took."""

from __future__ import annotations

import pytest

from enas_core.progress import ProgressClock, eta_seconds, format_duration


def _replay(reports: list[tuple[float, float]], end: float, *,
            start: float | None = None) -> list[tuple[float, float | None, float]]:
    """(time, ETA, true time left) at each report, fed in order to a fresh clock."""
    clock = ProgressClock(start=start)
    out = []
    for t, p in reports:
        clock.report(t, p)
        out.append((t, clock.eta(t), end - t))
    return out


def _slow_start() -> tuple[list[tuple[float, float]], float]:
    """60 s of preparing and slow first steps for the first 3%, then 1% per 4 s, reported
    every 4 s (the search reports every 5 s at most)."""
    reports = [(0.0, 0.0), (60.0, 0.03)]
    reports += [(60.0 + 4 * k, 0.03 + 0.01 * k) for k in range(1, 98)]
    return reports, 60.0 + 4 * 97


def test_a_slow_start_shows_no_eta_then_the_right_one():
    reports, end = _slow_start()
    # What the API said before: the time run over the progress made, times the rest.
    t, p = reports[1]
    assert t / p * (1 - p) == pytest.approx(1940)  # 32 min at 3%, for 388 s to go
    replayed = _replay(reports, end)
    shown = [(t, eta, left) for t, eta, left in replayed if eta is not None]
    # None until 5% has been measured past the reference (3% at 60 s): 8% at 80 s.
    assert [t for t, eta, _ in replayed if eta is None] == [0.0, 60.0, 64.0, 68.0, 72.0, 76.0,
                                                           end]
    assert shown[0][:2] == (80.0, pytest.approx(368.0))
    for _, eta, left in shown:
        assert eta == pytest.approx(left)  # a steady rate: exact


def test_phases_at_different_speeds_stay_within_a_factor_of_one_and_a_half():
    """A demo-sized job (4 search epochs, 2 faster final epochs of 6 in all): 90 s of
    preparing, search epochs of 60 s reported every 5 s (the first 10 s slow), 20 s ranking
    the candidates, final epochs of 30 s reported at their ends, 40 s of testing at 100%."""
    reports = [(0.0, 0.0)]
    t = 90.0
    for epoch in range(4):
        for k in range(1, 13):  # every 5 s; the epoch's first 10 s move half as fast
            frac = k / 12 if epoch or k > 2 else k / 24
            reports.append((t + 5 * k, (epoch + frac) / 6))
        t += 60
    t += 20
    for epoch in range(2):
        t += 30
        reports.append((t, (4 + epoch + 1) / 6))
    end = t + 40
    for t, eta, left in _replay(reports, end):
        if eta is not None:
            assert left / 1.5 <= eta <= left * 1.5, (t, eta, left)
    assert sum(eta is not None for _, eta, _ in _replay(reports, end)) >= 40


def test_between_reports_the_eta_counts_down_and_then_gives_up():
    reference, latest = (10.0, 0.10), (30.0, 0.20)  # 10% per 20 s: 160 s to go at 30 s
    assert eta_seconds(reference, latest, now=30.0) == pytest.approx(160.0)
    assert eta_seconds(reference, latest, now=100.0) == pytest.approx(90.0)
    assert eta_seconds(reference, latest, now=200.0) is None  # slower than it said
    assert eta_seconds(reference, (30.0, 1.0), now=30.0) is None  # at 100%: testing, saving
    assert eta_seconds(None, latest, now=30.0) is None
    assert eta_seconds(reference, (12.0, 0.14), now=12.0) is None  # 4% measured: too little


def test_a_resumed_run_measures_from_its_own_first_report():
    """A job resumed at 50%: the reference is the first report past 50%, after the resumed
    attempt's preparing, not the progress it resumed at."""
    clock = ProgressClock()
    assert not clock.report(0.0, 0.5)  # the start: preparing again, at the progress it had
    assert not clock.report(45.0, 0.5)  # the phase starts
    assert clock.report(50.0, 0.51)
    assert clock.reference == (50.0, 0.51)
    clock.report(70.0, 0.56)
    assert clock.eta(70.0) == pytest.approx(0.44 * 20 / 0.05)


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (42, "42 s"), (403, "6 min 43 s"),
                                           (3600 + 300, "1 h 05 min")])
def test_durations_read_as_minutes_and_seconds(seconds, text):
    assert format_duration(seconds) == text


def test_a_search_epochs_progress_follows_its_work():
    """The demo preset on the bundled digits (126 training batches of 32, 4 validation
    batches of 128, 10 controller steps of 10 reward batches): the shared steps are 48% of an
    epoch's work, not the 70% they were given (they took 39% of its time)."""
    from types import SimpleNamespace

    from enas_core.presets import preset_config
    from enas_core.search import Searcher

    fake = SimpleNamespace(config=preset_config("demo").search, train_loader=[None] * 126,
                           eval_loader=[None] * 4)
    shared, controller = Searcher.epoch_shares(fake)
    total = 3 * 126 * 32 + (10 * 10 + 4) * 128
    assert (shared, controller) == (3 * 126 * 32 / total, 10 * 10 * 128 / total)
    assert (round(shared, 3), round(controller, 3)) == (0.476, 0.504)
