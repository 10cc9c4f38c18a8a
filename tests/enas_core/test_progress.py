"""The ETA (`enas_core.progress`), on recorded timelines: no estimate until it can be made from
measured progress, then one within a factor 1.5 of the time the run really took."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from enas_core.progress import (
    ProgressClock,
    eta_seconds,
    final_epoch_images,
    format_duration,
    search_epoch_images,
)


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


def _demo_scale():
    """The demo preset's progress scale on the bundled digits (4,050 training and 450
    validation images of 1x28x28, 10 classes): the pipeline's, and a search epoch's parts."""
    from enas_core.pipeline import _progress_scale
    from enas_core.presets import preset_config

    config = preset_config("demo")
    train = SimpleNamespace(channels=1, image_shape=(28, 28, 1), num_classes=10,
                            num_samples=4050)
    data = SimpleNamespace(train=train, val=SimpleNamespace(num_samples=450))
    parts = search_epoch_images(config.search, 4050, 450)
    return config, _progress_scale(config, data), parts


def test_a_search_epochs_progress_follows_its_work():
    """126 training batches of 32 (3 forward passes an image), 10 controller steps of 10
    reward batches of 128, 4 validation batches of 128: the shared steps are 48% of an
    epoch's work, not the 70% they were given (they took 39% of its time)."""
    config, _, parts = _demo_scale()
    assert parts == (3 * 126 * 32, 10 * 10 * 128, 4 * 128)
    assert round(parts[0] / sum(parts), 3) == 0.476
    assert final_epoch_images(config.train, 4050, 450) == 3 * 31 * 128 + 450


def test_a_jobs_progress_follows_the_work_of_its_epochs():
    """A demo search epoch does about twice the work of a final-training epoch (it took
    about three times as long): the search's 4 epochs are 80% of the job, not 4/6."""
    _, at, _ = _demo_scale()
    search = at(1)
    assert 2.0 < search / (at(4, 1) - at(4)) < 2.1
    assert at(4) == pytest.approx(4 * search) and at(4, 2) == 1.0
    assert 0.80 < at(4) < 0.81


def test_a_recorded_demo_run_gets_etas_within_a_factor_of_one_and_a_half():
    """A real run of the demo preset (tests/enas_core/timelines/demo-loaded-cpu.json: the
    pipeline's progress reports, on a loaded 2-core CPU), replayed on today's progress scale:
    no ETA for the first 200 s, then one within a factor 1.5 of the time the run really took
    but at two reports of the final training, which ran at a lower load than the search
    measured (1.7x and 1.9x). With epochs counted as equal and 70% of a search epoch's
    progress on its shared steps, 122 of 230 ETAs were off by more than 1.5x, up to 3.5x."""
    recording = json.loads((Path(__file__).parent / "timelines" / "demo-loaded-cpu.json")
                           .read_text())
    _, at, parts = _demo_scale()
    shared, controller = parts[0] / sum(parts), parts[1] / sum(parts)
    where = {"preparing": lambda e, f: at(0), "search": lambda e, f: at(e),
             "shared": lambda e, f: at(e + shared * f),
             "controller": lambda e, f: at(e + shared + controller * f),
             "final": lambda e, f: at(4, e)}
    reports = [(t, where[what](epochs, fraction))
               for t, what, epochs, fraction in recording["reports"]]
    replayed = _replay(reports, recording["end"])
    ratios = [(t, eta / left) for t, eta, left in replayed if eta is not None]
    assert min(t for t, _ in ratios) == 201.8
    assert len(ratios) == 229
    off = [(t, round(r, 2)) for t, r in ratios if not 1 / 1.5 <= r <= 1.5]
    assert off == [(3167.7, 1.69), (3425.0, 1.89)]
