"""The OpenAPI document describes the responses as they are sent."""

from __future__ import annotations


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_is_documented_as_problem_json(client):
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    errors = 0
    for label, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or label == "GET /readyz":  # readiness answers its checks
                continue
            errors += 1
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (label, status)
    assert errors > 40


def test_submission_lists_its_503_and_every_database_route_its_overload(client):
    spec = client.get("/openapi.json").json()
    submit = spec["paths"]["/jobs"]["post"]["responses"]
    assert "broker" in submit["503"]["description"]
    for label, operation in _operations(spec):
        if "401" in operation["responses"]:
            assert "503" in operation["responses"], label
            if label != "POST /jobs":
                assert "Retry-After" in operation["responses"]["503"]["headers"], label


def test_an_error_is_sent_as_documented(client, alice):
    response = client.get("/jobs?limit=0", headers=alice)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) == {"type", "title", "status", "detail", "instance", "errors"}
