"""The OpenAPI document as the responses are: every error is `application/problem+json` with
the Problem schema (api.errors sends them so), and every route that reads the database may
answer 503 under overload."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_SCHEMAS = ("#/components/schemas/Problem", "#/components/schemas/HTTPValidationError")
OVERLOADED = {
    "description": "Overloaded (every database connection busy) or the database is "
    "unreachable: retry after the Retry-After header's seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds to wait before retrying"}},
    "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
}


def _is_problem(status: str, response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return status == "422" or schema.get("$ref") in _ERROR_SCHEMAS


def problem_document(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with error responses as application/problem+json and 503 on database routes."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if _is_problem(status, response):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            if "401" in responses:  # an authenticated route: the key is looked up
                responses.setdefault("503", OVERLOADED)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_document(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=app.openapi_tags,
            ))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
