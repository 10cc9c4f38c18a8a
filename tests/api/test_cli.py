"""The service commands: db upgrade/downgrade and keys create/list/revoke (on SQLite)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from enas_service.apikeys import hash_key
from enas_service.settings import get_settings
from launcher.cli import main


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ENAS_DATABASE_URL", url)
    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield url
    monkeypatch.undo()
    get_settings.cache_clear()


def test_db_and_keys_commands(sqlite_env, capsys):
    assert main(["db", "upgrade"]) == 0
    engine = create_engine(sqlite_env)
    assert "jobs" in inspect(engine).get_table_names()

    assert main(["keys", "create", "--owner", "alice", "--name", "laptop"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("enas_")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT owner, name, key_hash FROM api_keys").all()
    assert stored == [("alice", "laptop", hash_key(key))]

    assert main(["keys", "list"]) == 0
    prefix, owner, name, state = capsys.readouterr().out.split("\t")[:4]
    assert (owner, name, state) == ("alice", "laptop", "active")
    assert key.startswith("enas_" + prefix)
    assert main(["keys", "revoke", prefix]) == 0
    assert main(["keys", "revoke", prefix]) == 1  # nothing left to revoke

    assert main(["db", "downgrade", "base"]) == 0
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()


def test_a_key_prefix_never_reads_as_a_flag(monkeypatch):
    """One token in 64 starts with "-": its prefix would be an unknown option to
    `enas keys revoke`."""
    import secrets

    from enas_service import apikeys

    tokens = iter(["-starts-with-a-dash-" + "a" * 23, "ok" + "b" * 41])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(tokens))
    stored = {}
    monkeypatch.setattr(apikeys.repository, "create_api_key",
                        lambda session, **row: stored.update(row))
    key = apikeys.create_key(None, owner="alice")
    assert key == "enas_ok" + "b" * 41 and stored["prefix"] == "okbbbbbb"
