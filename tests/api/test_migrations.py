"""The Alembic migrations build an empty database and take it down again, on Postgres and on
SQLite (embedded mode), and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from enas_service.migrate import alembic_config, downgrade, upgrade
from enas_service.models import Base

TABLES = {"alembic_version", "api_keys", "datasets", "jobs", "job_epochs", "architectures"}


def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade(url)
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(url)  # and back up
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_postgres(make_database):
    _check(make_database("migrations"))


def test_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'enas.db'}")


def test_one_head():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
