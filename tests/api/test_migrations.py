"""The Alembic migrations build an empty database and take it down again, on Postgres and on
SQLite (embedded mode), and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from enas_service.migrate import alembic_config, downgrade, upgrade
from enas_service.models import Base

TABLES = {"alembic_version", "api_keys", "datasets", "jobs", "job_epochs", "architectures",
          "usage_records"}


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


def test_sqlite_downgrade_of_0002_keeps_the_jobs_data(tmp_path):
    """0002's columns are dropped in place: copying `jobs` (Alembic's batch mode) would cascade
    to every job's epochs and architectures with SQLite's foreign keys on."""
    url = f"sqlite:///{tmp_path / 'enas.db'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("PRAGMA foreign_keys=ON"))
            conn.execute(text(
                "INSERT INTO jobs (id, owner, request, config, status, epoch, epochs, progress, "
                "elapsed_s, cancel_requested, attempts, lease, created_at, updated_at, pareto) "
                "VALUES ('0' || hex(randomblob(15)) || '0', 'a', '{}', '{}', 'succeeded', 1, 1, "
                "1.0, 0, 0, 1, 1, '2026-01-01', '2026-01-01', '{\"front\": []}')"))
            conn.execute(text(
                "INSERT INTO architectures (job_id, rank, arch, costs) "
                "SELECT id, 1, '{}', '{\"params\": 5}' FROM jobs"))
        downgrade(url, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM architectures")).scalar() == 1
            assert "pareto" not in {c["name"] for c in inspect(conn).get_columns("jobs")}
    finally:
        engine.dispose()


def test_one_head():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_the_files_sort_in_the_order_they_run():
    """A reader lists migrations/versions/ and sees the chain, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    chain = [rev.path for rev in reversed(list(script.walk_revisions()))]
    names = [path.rpartition("/")[2] for path in chain]
    assert names == sorted(names)
    assert names[:4] == ["0001_initial_schema.py", "0002_constraints.py",
                         "0003_search_report.py", "0003a_job_usage.py"]
