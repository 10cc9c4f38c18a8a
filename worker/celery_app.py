"""The worker's Celery app: the queue client's app (`enas_service.queue`) with this package's
tasks registered on it.

`celery -A worker.celery_app worker -Q gpu --concurrency=1` works; `enas worker` adds the
settings below to the command line.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from enas_core.threads import passive_wait_policy
from enas_service.db import get_engine
from enas_service.queue import get_celery
from worker import tasks  # noqa: F401 - registers the tasks under their names

# `celery -A worker.celery_app worker` imports this before torch: idle OpenMP threads of its
# jobs sleep instead of spinning (enas_core.threads).
passive_wait_policy()

__all__ = ["get_celery"]


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool child must not share the parent's database connections.
    get_engine().dispose(close=False)


def __getattr__(name: str) -> Celery:
    # `celery -A worker.celery_app` looks for `app`; build it on first use, from the settings.
    if name in ("app", "celery"):
        return get_celery()
    raise AttributeError(name)
