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


@pytest.mark.slow
def test_the_database_commands_run_without_torch(sqlite_env):
    """`enas keys create` writes a database row: the `enas` command (the engine's CLI, which
    the launcher's commands plug into) gets there with `import torch` failing."""
    import subprocess
    import sys

    code = ("import sys\n"
            "sys.modules['torch'] = None  # `import torch` raises ImportError\n"
            "from enas_core.cli import main\n"
            "codes = [main(['db', 'upgrade']), main(['keys', 'create', '--owner', 'alice']),\n"
            "         main(['keys', 'list'])]\n"
            "print(codes, [m for m in sys.modules\n"
            "              if m.split('.')[0] == 'torch' and sys.modules[m]])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    upgraded, key, listed, last = out.stdout.splitlines()
    assert (upgraded, last) == ("database at head", "[0, 0, 0] []")
    assert key.startswith("enas_") and listed.split("\t")[:2] == [key[5:13], "alice"]


def test_the_demo_says_what_the_job_does_and_how_long_it_took():
    """`enas serve --demo`'s lines for a job read at each stage (as GET /jobs/{id} gives it):
    what it does where its progress stands still, the ETA, and the time it took."""
    import io
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from launcher.demo import follow_demo_job

    def job(status, phase, epoch, epochs, progress, **more):
        return {"status": status, "phase": phase, "epoch": epoch, "epochs": epochs,
                "progress": progress, "eta_seconds": None, "best_val_acc": None, **more}

    states = iter([
        job("queued", None, 0, 0, 0.0),
        job("running", "preparing", 0, 4, 0.0),
        job("running", "search", 0, 4, 0.02),
        job("running", "search", 0, 4, 0.09, eta_seconds=285.0),
        job("running", "search", 4, 4, 4 / 6, best_val_acc=0.91, eta_seconds=100.0),
        job("running", "final", 2, 2, 1.0, best_val_acc=0.91),
        job("succeeded", "final", 2, 2, 1.0, best_val_acc=0.91,
            final={"test_acc": 0.944, "params": 12345},
            warnings=[{"code": "val_acc_at_chance", "message": "scores 0.111 ..."}]),
    ])

    class Jobs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(next(states)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    times = iter([0.0, 403.0])
    out = io.StringIO()
    try:
        done = follow_demo_job(f"http://127.0.0.1:{server.server_address[1]}", "k", "j",
                               poll_s=0, out=out, clock=lambda: next(times))
    finally:
        server.shutdown()
        server.server_close()
    assert done["status"] == "succeeded"
    assert out.getvalue().splitlines() == [
        "  demo: queued              epoch 0/?    0%",
        "  demo: running   preparing epoch 0/4    0%  (preparing: the data, latency tables)",
        "  demo: running   search    epoch 0/4    2%",
        "  demo: running   search    epoch 0/4    9%  ETA 4 min 45 s",
        "  demo: running   search    epoch 4/4   67%  best val_acc 0.910  ETA 1 min 40 s  "
        "(ranking the candidates)",
        "  demo: running   final     epoch 2/2  100%  best val_acc 0.910  "
        "(testing the network, exporting it)",
        "  demo: succeeded final     epoch 2/2  100%  best val_acc 0.910",
        "  demo: test accuracy 0.9440, 12345 params",
        "  demo: WARNING: scores 0.111 ...",
        "  demo: finished in 6 min 43 s (succeeded)",
    ]
