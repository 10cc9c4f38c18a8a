"""Engine and sessions. Callers own the transaction: one commit per request or task step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from enas_service.settings import get_settings


def make_engine(url: str, *, ping_idle_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; on Postgres its pool pings a connection before handing it out:
    every time (SQLAlchemy's pool_pre_ping), or with `ping_idle_only` only one that sat idle
    (see _ping_after_idle)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling is off; "begin" below issues BEGIN IMMEDIATE
            # so that concurrent writers (the API, the worker) wait on busy_timeout instead of
            # failing when a read transaction is upgraded to a write one.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if not ping_idle_only:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if ping_idle_only:
        _ping_after_idle(engine)
    return engine


# With ping_idle_connections_only(), a pooled connection unused for this long is pinged before
# it is handed out; one used more recently is not.
PING_AFTER_IDLE_S = 1.0
_ping_idle_only = False


def ping_idle_connections_only() -> None:
    """This process's engines from now on ping only connections that sat idle: the API's
    (api.main.create_app), whose reads are two or three round trips each and which answers a
    connection lost mid-request with 503 and Retry-After. A worker keeps pinging every
    checkout: its writes must survive a connection killed at any moment."""
    global _ping_idle_only
    _ping_idle_only = True


def _ping_after_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, only for connections that sat in the pool a while: pinging
    every checkout was one of an API's cached read's three round trips. A connection used a moment
    ago is alive but for a crash in between, which the request then meets as any lost
    connection (api.errors: 503 with Retry-After); one idle through a database restart or an
    idle-connection killer is found dead here, and the pool's connections from before it are
    replaced (as pre-ping does)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"the connection was lost while idle: {exc}") from exc


@lru_cache
def _engine_for(url: str, pool_size: int = 5, max_overflow: int = 10,
                pool_timeout: float = 30.0, ping_idle_only: bool = False) -> Engine:
    return make_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                       pool_timeout=pool_timeout, ping_idle_only=ping_idle_only)


def _engine_key() -> tuple[str, int, int, float, bool]:
    settings = get_settings()
    return (settings.database_url, settings.db_pool_size, settings.db_max_overflow,
            settings.db_pool_timeout_s, _ping_idle_only)


def get_engine() -> Engine:
    return _engine_for(*_engine_key())


@lru_cache
def _sessionmaker_for(key: tuple[str, int, int, float, bool], read_only: bool = False
                      ) -> sessionmaker[Session]:
    engine = _engine_for(*key)
    if read_only and engine.dialect.name == "postgresql":
        # No BEGIN and COMMIT round trips: under READ COMMITTED each statement of a
        # transaction reads a snapshot of its own anyway, so a reader's transaction buys
        # nothing (two of a cached read's four round trips).
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[assignment]
    return sessionmaker(bind=engine, expire_on_commit=False)


def new_session(*, read_only: bool = False) -> Session:
    """A session; `read_only` for one that only reads (a GET request's): each statement
    commits as it runs on Postgres."""
    return _sessionmaker_for(_engine_key(), read_only)()


def commit(session: Session) -> None:
    """Commit, then run the callbacks registered with `after_commit` (outside SQLAlchemy's
    commit, so that one that raises leaves a usable session and reaches the caller)."""
    session.commit()
    for callback in session.info.pop("committed", []):
        callback()


def end(session: Session, *, ok: bool = True) -> None:
    """The end of a unit of work (a task step here, a request in api.deps): commit it, with
    its after-commit callbacks, or roll it back when not `ok` or when the commit fails; close
    the session either way."""
    try:
        if not ok:
            session.rollback()
            return
        try:
            commit(session)
        except BaseException:
            session.rollback()
            raise
    finally:
        session.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits once at the end, or rolls back on an exception."""
    session = new_session()
    try:
        yield session
    except BaseException:
        end(session, ok=False)
        raise
    end(session)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction is committed by `commit()`
    (e.g. enqueue a task for a row only when the row is there for the worker to read)."""
    session.info.setdefault("after_commit", []).append(callback)


def after_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` if the session's current transaction rolls back (e.g. remove a file)."""
    session.info.setdefault("after_rollback", []).append(callback)


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    session.info.pop("after_rollback", None)
    session.info.setdefault("committed", []).extend(session.info.pop("after_commit", []))


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("committed", None)
    for callback in session.info.pop("after_rollback", []):
        callback()
