"""How far a job is and how long it has to go: one estimate for the `enas` progress bar, the
API's `eta_seconds` (from what the worker records) and so what the demo and `enas jobs` print.
Torch-free.

The estimate is the rate of progress measured from a reference point, the first progress
report after the run (or its resume) started, to the latest report, applied to the progress
left. Before the reference the run prepares (the data, latency tables: a minute or more on a
CPU) and takes its first, slow steps: a rate over that stretch, against the 1% of progress it
moved, once said "2.4 h" for a job that took 6.7 minutes. Until `MIN_PROGRESS` has been
measured past the reference there is no estimate.

For a rate to hold, progress moves with the work done, not the epochs counted (`epoch_work`,
used by `pipeline.run_job`): a search epoch of the demo does about twice the work of a
final-training epoch (and took about three times as long); counted as equal, the search's
rate applied to the faster final training made ETAs up to 3.5x too long
(tests/enas_core/test_progress.py replays a recorded run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import RunConfig, SearchConfig, TrainConfig, train_batch_size

MIN_PROGRESS = 0.05  # progress measured past the reference before there is an estimate

Mark = tuple[float, float]  # (seconds on one clock, progress 0..1)


def eta_seconds(reference: Mark | None, latest: Mark | None, now: float) -> float | None:
    """Seconds to go from `now`: the progress left at the rate measured from `reference` to
    `latest`, less the time since `latest`. None while there is no reference, while less than
    `MIN_PROGRESS` has been measured since it, once the run is at 100%, and once the
    estimate has run out (the run is slower than it said: better none than "0 s")."""
    if reference is None or latest is None:
        return None
    (t0, p0), (t1, p1) = reference, latest
    if p1 - p0 < MIN_PROGRESS or t1 <= t0 or p1 >= 1:
        return None
    left = (1 - p1) * (t1 - t0) / (p1 - p0) - (now - t1)
    return left if left > 0 else None


@dataclass
class ProgressClock:
    """The reference and the latest report of one run (one attempt of a job), fed with each
    progress report: the first report that moves past `start` (the progress the run began
    at) becomes the reference."""

    start: float | None = None  # None: the first report sets it
    reference: Mark | None = None
    latest: Mark | None = None

    def report(self, t: float, progress: float) -> bool:
        """Note a report; True when it became the reference."""
        self.latest = (t, progress)
        if self.start is None:
            self.start = progress
        elif self.reference is None and progress > self.start:
            self.reference = (t, progress)
            return True
        return False

    def eta(self, now: float) -> float | None:
        return eta_seconds(self.reference, self.latest, now)


def format_duration(seconds: float) -> str:
    """"42 s", "6 min 43 s", "2 h 05 min": for ETAs and elapsed times."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def search_epoch_images(config: SearchConfig, train_samples: int,
                        val_samples: int) -> tuple[int, int, int]:
    """What one search epoch puts through the network, in images of forward passes: its
    shared-weight steps (a training image counts 3 times: forward and backward), its controller
    steps' reward batches, and the validation batches of its best candidate."""
    steps = config.steps_per_epoch or max(1, train_samples // config.batch_size)
    evaluated = -(-val_samples // config.eval_batch_size)
    if config.eval_batches is not None:
        evaluated = min(evaluated, config.eval_batches)
    rewards = config.controller.train_steps * config.controller.num_aggregate
    return (3 * steps * config.batch_size, rewards * config.eval_batch_size,
            evaluated * config.eval_batch_size)


def final_epoch_images(config: TrainConfig, train_samples: int, val_samples: int) -> int:
    """The same for one epoch of final training: its steps (3 an image) and the validation."""
    batch = train_batch_size(config, train_samples)
    steps = config.steps_per_epoch or max(1, train_samples // batch)
    return 3 * steps * batch + val_samples


def epoch_work(config: RunConfig, input_shape: Sequence[int], num_classes: int,
               train_samples: int, val_samples: int) -> tuple[float, float]:
    """The work of one search epoch and of one final-training epoch, in multiply-adds: their
    images times the multiply-adds of an image through a typical architecture (the mean of a
    few random ones, priced torch-free) in the search network and in the final network."""
    from .costs import typical_flops
    from .spaces import network_config_for

    search = config.search.model
    per_search = typical_flops(search, lambda a: search, input_shape, num_classes)
    per_final = typical_flops(search, lambda a: network_config_for(a, config.train.model),
                              input_shape, num_classes)
    return (sum(search_epoch_images(config.search, train_samples, val_samples)) * per_search,
            final_epoch_images(config.train, train_samples, val_samples) * per_final)


def select_epoch_work(config: RunConfig, input_shape: Sequence[int], num_classes: int,
                      train_samples: int, val_samples: int) -> float:
    """The work of one epoch of the selection stage (`enas_core.selection`): a final-training
    epoch of a network of the search network's size."""
    from .costs import typical_flops
    from .stage_rule import stage_network

    per_image = typical_flops(config.search.model, lambda a: stage_network(config, a),
                              input_shape, num_classes)
    return final_epoch_images(config.train, train_samples, val_samples) * per_image
