"""API keys: required everywhere but health and docs; stored hashed; owners are isolated."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from enas_service.apikeys import hash_key
from enas_service.models import ApiKey

# A job id no test creates; fixed so that parallel runners (pytest-xdist) collect the same
# test ids in every worker.
NO_SUCH_JOB = uuid.UUID(int=1)


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/jobs"),
        ("post", "/jobs"),
        ("get", f"/jobs/{NO_SUCH_JOB}"),
        ("get", f"/jobs/{NO_SUCH_JOB}/events"),
        ("get", "/datasets"),
        ("post", "/datasets"),
    ],
)
def test_routes_need_a_key(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_a_wrong_key_is_refused(client, alice):
    response = client.get("/jobs", headers={"Authorization": "Bearer enas_not-a-key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"


@pytest.mark.parametrize("path", ["/healthz", "/docs", "/redoc", "/openapi.json", "/",
                                  "/static/dashboard/app.js"])
def test_open_routes(client, path):
    assert client.get(path).status_code == 200


def test_keys_are_stored_hashed(db_session, alice):
    key = alice["Authorization"].removeprefix("Bearer ")
    stored = db_session.scalars(select(ApiKey)).all()
    assert [k.key_hash for k in stored] == [hash_key(key)]
    assert all(key not in (k.key_hash, k.prefix, k.name) for k in stored)


def test_another_owner_sees_404(client, alice, bob):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    for path in ("", "/history", "/architecture", "/architectures", "/model", "/events"):
        response = client.get(f"/jobs/{job['id']}{path}", headers=bob)
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"no job {job['id']}"
    assert client.post(f"/jobs/{job['id']}/cancel", headers=bob).status_code == 404
    assert client.delete(f"/jobs/{job['id']}", headers=bob).status_code == 404
    assert client.get("/jobs", headers=bob).json() == {"data": [], "count": 0}
    assert client.get(f"/jobs/{job['id']}", headers=alice).status_code == 200


def test_another_owners_dataset_is_unknown(client, alice, bob, digits_npz):
    with digits_npz.open("rb") as f:
        dataset = client.post("/datasets", files={"file": ("d.npz", f)}, headers=alice).json()
    assert client.get(f"/datasets/{dataset['id']}", headers=bob).status_code == 404
    assert client.delete(f"/datasets/{dataset['id']}", headers=bob).status_code == 404
    response = client.post("/jobs", json={"dataset": dataset["id"]}, headers=bob)
    assert response.status_code == 422
    assert "unknown dataset" in response.json()["detail"]
