"""Can a job's limits be met at all? The engine's `check_possible`, made before the job runs:
by the API at submission (from the dataset's stored summary, or a built-in dataset's known
shape) and by the worker before the search starts (from the loaded data)."""

from __future__ import annotations

from collections.abc import Sequence

from enas_core.config import ConfigError, RunConfig
from enas_core.constraints import check_possible
from enas_core.options import OptionError, option_at
from enas_core.spaces import get_space


def check_limits(config: RunConfig, input_shape: Sequence[int], num_classes: int) -> None:
    """An OptionError naming the limit, with the engine's message, when a hard params or FLOPs
    limit is below the cheapest final network of the config: no search can meet it. The limits
    apply to the final network, sized as the searched architecture dictates (as `run_job`
    does)."""
    limits = config.search.constraints
    if not limits.active:
        return
    search = config.search.model
    final = get_space(search.space).fit_config(config.train.model, search)
    try:
        check_possible(limits, final, tuple(input_shape), num_classes)
    except ConfigError as exc:
        name = option_at(f"search.constraints.{exc.field}") if exc.field else None
        raise OptionError(name or "max_params", str(exc)) from exc
