from __future__ import annotations

import pytest

from enas_service.queue import get_celery


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}


def test_readyz(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_reports_a_broker_that_is_down(client, monkeypatch: pytest.MonkeyPatch):
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    get_celery.cache_clear()
    try:
        response = client.get("/readyz")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_celery.cache_clear()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error:")
