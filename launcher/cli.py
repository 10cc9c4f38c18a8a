"""Service commands for the `enas` CLI: serve, api, worker, db, keys.

`register(subparsers)` is the `enas.commands` entry point the engine's CLI loads; each command
sets `func(args) -> int`. `python -m launcher` runs the same commands on its own. `enas serve`
keeps its worker running with launcher.supervisor, and `--demo` is the client in launcher.demo.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from enas_core.threads import THREADS_ENV, parse_threads, passive_wait_policy
from launcher.supervisor import WorkerSupervisor

log = logging.getLogger("enas.service")


def _apply_env(args: argparse.Namespace) -> None:
    """Command-line options become ENAS_* variables, so that child processes see them too."""
    from enas_service.settings import get_settings

    data_dir = getattr(args, "data_dir", None)
    if data_dir:
        os.environ["ENAS_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    threads = getattr(args, "threads", None)
    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)
    get_settings.cache_clear()


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", help="where datasets, checkpoints and models go (ENAS_DATA_DIR)"
    )


def _threads_type(text: str) -> int:
    try:
        return parse_threads(text, source="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=_threads_type, default=None, metavar="N",
        help=f"CPU threads torch uses in the worker ({THREADS_ENV}; default: OMP_NUM_THREADS "
        "if set, else the cores the worker may use: its CPU affinity and cgroup quota)",
    )


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: not given here, it does not overwrite `enas -v COMMAND`'s value.
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="also log the libraries' start-up lines (Alembic's migrations, Celery's banner, "
        "uvicorn's start and each request)",
    )


def _verbose(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False))


def _quiet_libraries(verbose: bool) -> None:
    """Quiet by default: Alembic's plugin and context lines (and each migration) and Celery's
    line per task ("Task enas.run_job[...] received", "... succeeded in 400.13s", in the middle
    of `enas serve --demo`'s progress) go to the log only with --verbose; our own lines, the
    worker's " ready." and the libraries' warnings and errors always do."""
    if not verbose:
        for name in ("alembic", "celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the service on this machine: API + one worker, SQLite, no broker server",
        description="Embedded mode: SQLite and a filesystem broker under the data directory "
        "(unless ENAS_DATABASE_URL / ENAS_BROKER_URL say otherwise), the API and one worker. "
        "On first start it creates an API key and prints it.",
    )
    _add_data_dir(serve)
    serve.add_argument("--host", default=None, help="default ENAS_API_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="default ENAS_API_PORT (8000)")
    serve.add_argument("--no-worker", action="store_true", help="the API only")
    _add_threads(serve)
    _add_verbose(serve)
    serve.add_argument(
        "--demo", action="store_true",
        help="once the API answers, submit a demo search on the bundled digits and print "
        "how to follow it with curl; then print its progress until it ends",
    )
    serve.set_defaults(func=cmd_serve)

    api = subparsers.add_parser("api", help="run the HTTP API (migrates the database first)")
    _add_data_dir(api)
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.add_argument("--no-migrate", action="store_true", help="skip `db upgrade` at start")
    _add_verbose(api)
    api.set_defaults(func=cmd_api)

    worker = subparsers.add_parser("worker", help="run a Celery worker for search jobs")
    _add_data_dir(worker)
    worker.add_argument(
        "--pool", choices=["prefork", "solo", "threads"], default=None,
        help="default ENAS_WORKER_POOL (prefork, one child)",
    )
    _add_threads(worker)
    worker.add_argument(
        "--reaper", action="store_true",
        help="also re-queue stale jobs, from a separate reaper process that exits with this "
        "one (when no Celery beat runs)",
    )
    worker.add_argument(
        "--queues", default=None,
        help="queues to consume (default ENAS_QUEUE, 'gpu'); the reaper's is 'maintenance'",
    )
    worker.add_argument(
        "--beat", action="store_true",
        help="embed Celery beat, which sends the reaper task every ENAS_REAPER_INTERVAL_S "
        "(run exactly one such process, e.g. `enas worker --queues maintenance --beat`)",
    )
    worker.add_argument("--loglevel", default="INFO",
                        help="the worker's log level (default: %(default)s; Celery's line per "
                        "task needs --verbose too)")
    _add_verbose(worker)
    # `enas serve` passes its pid: its worker exits when it dies (launcher.lifeline).
    worker.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    db = subparsers.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply migrations (default: to the newest)")
    up.add_argument("revision", nargs="?", default="head")
    _add_data_dir(up)
    _add_verbose(up)
    up.set_defaults(func=cmd_db_upgrade)
    down = db_sub.add_parser("downgrade", help="revert migrations (default: the last one)")
    down.add_argument("revision", nargs="?", default="-1", help="'base' reverts them all")
    _add_data_dir(down)
    down.set_defaults(func=cmd_db_downgrade)

    keys = subparsers.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--owner", default="default",
                        help="keys of one owner see the same datasets and jobs")
    create.add_argument("--name", default="", help="a label for the key")
    _add_data_dir(create)
    create.set_defaults(func=cmd_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (prefix, owner, name)")
    _add_data_dir(listing)
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    _add_data_dir(revoke)
    revoke.set_defaults(func=cmd_keys_revoke)


# -- commands ---------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    _apply_env(args)
    _quiet_libraries(_verbose(args))
    from enas_service.migrate import upgrade

    upgrade(revision=args.revision)
    print(f"database at {args.revision}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    _apply_env(args)
    from enas_service.migrate import downgrade

    downgrade(revision=args.revision)
    print(f"database downgraded to {args.revision}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    _apply_env(args)
    from enas_service.apikeys import create_key
    from enas_service.db import session_scope

    with session_scope() as session:
        key = create_key(session, owner=args.owner, name=args.name)
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    _apply_env(args)
    from enas_service import repository
    from enas_service.db import session_scope

    with session_scope() as session:
        for key in repository.list_api_keys(session):
            state = "revoked" if key.revoked_at else "active"
            print(f"{key.prefix}\t{key.owner}\t{key.name}\t{state}\t{key.created_at:%Y-%m-%d}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    _apply_env(args)
    from enas_service import repository
    from enas_service.db import session_scope

    with session_scope() as session:
        n = repository.revoke_api_key(session, prefix=args.prefix)
    print(f"revoked {n} key(s)")
    return 0 if n else 1


def cmd_api(args: argparse.Namespace) -> int:
    _apply_env(args)
    _quiet_libraries(_verbose(args))
    import uvicorn

    from enas_service.settings import get_settings

    settings = get_settings()
    if not args.no_migrate:
        from enas_service.migrate import upgrade

        upgrade()
    _sweep_orphans()
    uvicorn.run(
        "api.main:app",
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
        proxy_headers=True,
    )
    return 0


def worker_argv(*, pool: str, loglevel: str, queues: str, quiet: bool = False) -> list[str]:
    """Celery's command line; `quiet` leaves out its banner (`celery --quiet worker`)."""
    return [
        *(["--quiet"] if quiet else []),
        "worker",
        f"--queues={queues}",
        "--concurrency=1",  # one job per process (per GPU)
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        f"--hostname=enas-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]


def cmd_worker(args: argparse.Namespace) -> int:
    if args.parent_pid is not None:
        from launcher.lifeline import exit_with_parent

        exit_with_parent(args.parent_pid)
    _apply_env(args)
    from enas_service.settings import get_settings
    from worker.celery_app import get_celery
    from worker.reaper import start_reaper_process

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    verbose = _verbose(args)
    _quiet_libraries(verbose)
    if not verbose:
        import warnings

        from celery.exceptions import SecurityWarning

        # "running the worker with superuser privileges": containers run as root, and the
        # broker carries JSON only (no pickle), which is what the warning is about.
        warnings.filterwarnings("ignore", category=SecurityWarning)
    if not args.beat:
        from enas_core.threads import configure_threads

        configure_threads(settings.torch_threads)  # loads torch; its children inherit this
        import enas_core.pipeline  # noqa: F401 - load torch and the engine before the first job

    if args.reaper:  # a process: this one forks the pool's children next
        start_reaper_process()
    _resend_lost_jobs()
    argv = worker_argv(
        pool=args.pool or settings.worker_pool,
        loglevel=args.loglevel,
        queues=args.queues or settings.queue,
        quiet=not verbose,
    )
    if args.beat:
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    get_celery().worker_main(argv)
    return 0


def _sweep_orphans() -> None:
    """At start-up, remove what processes killed mid-upload left (stale temp files, dataset
    folders whose row never came); the reaper does it again from time to time."""
    from enas_service.sweeper import sweep_orphans

    try:
        sweep_orphans()
    except Exception as exc:
        log.warning("could not sweep the data directory at start-up: %s", exc)


def _resend_lost_jobs() -> None:
    """At start-up, send again the queued jobs whose message the broker lost (a Redis that
    restarted empty): the database says which jobs must run."""
    from worker.reaper import resend_lost_jobs

    try:
        resend_lost_jobs()
    except Exception as exc:  # the reaper tries again at its next pass
        log.warning("could not check the queue for lost jobs at start-up: %s", exc)


def _first_start_key() -> str | None:
    """An API key for a database that has none yet (printed once, like Jupyter's token)."""
    from enas_service import repository
    from enas_service.apikeys import create_key
    from enas_service.db import session_scope

    with session_scope() as session:
        if repository.count_api_keys(session):
            return None
        return create_key(session, owner="default", name="created by enas serve")


def cmd_serve(args: argparse.Namespace) -> int:
    _apply_env(args)
    verbose = _verbose(args)
    _quiet_libraries(verbose)  # before Alembic is imported: it logs its plugins then
    import uvicorn

    from enas_service.migrate import upgrade
    from enas_service.settings import get_settings
    from launcher.demo import dashboard_url, run_demo
    from worker.reaper import start_reaper_thread

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    _sweep_orphans()
    if settings.is_sqlite:
        # One machine, one worker: a job still "running" is left from the last run; resume it.
        from worker.reaper import reap_stale_jobs

        reap_stale_jobs(stale_after_s=0)
    key = _first_start_key()
    demo_key = key
    if args.demo and demo_key is None:
        from enas_service.apikeys import create_key
        from enas_service.db import session_scope

        with session_scope() as session:
            demo_key = create_key(session, owner="default", name="enas serve --demo")
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    url = f"http://{host}:{port}"

    supervisor = None
    if not args.no_worker:
        supervisor = WorkerSupervisor(
            [sys.executable, "-m", "launcher", "worker", "--pool=solo",
             f"--parent-pid={os.getpid()}", *(["--verbose"] if verbose else [])],
            env={**os.environ, "ENAS_DATA_DIR": str(settings.data_dir)},
        )
        supervisor.start()
    stop_reaper = start_reaper_thread()

    print(f"\n  ENAS service at {url}  (API docs: {url}/docs)", flush=True)
    print(f"  dashboard: {dashboard_url(url, key)}", flush=True)
    print(f"  data directory: {settings.data_dir}", flush=True)
    if key:
        print(f"  API key (shown once; `enas keys create` makes more): {key}", flush=True)
        print(f"\n  export ENAS_KEY={key}", flush=True)
    print(flush=True)
    if args.demo and demo_key:
        threading.Thread(target=run_demo, args=(url, demo_key), daemon=True).start()
    try:
        # Quiet: uvicorn's warnings and errors only (the URL is printed above); --verbose adds
        # its start-up lines and a line per request.
        uvicorn.run("api.main:app", host=host, port=port,
                    log_level="info" if verbose else "warning")
    finally:
        stop_reaper.set()
        if supervisor is not None:
            supervisor.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    passive_wait_policy()  # before anything loads torch (and its OpenMP) in this process
    parser = argparse.ArgumentParser(prog="enas", description="enas-service commands")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
