"""The FastAPI application: `uvicorn api.main:app` or `create_app()`."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.openapi import install_openapi
from api.routes import api_router

DESCRIPTION = """
Efficient Neural Architecture Search as a service: upload a dataset (or name a built-in one),
submit a search job, follow it, fetch the best architecture and the trained model.

Every route but `/healthz`, `/readyz` and these docs needs `Authorization: Bearer <API key>`
(`enas keys create` makes one). Errors are `application/problem+json`.
"""


def create_app() -> FastAPI:
    app = FastAPI(
        title="enas-service",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "jobs", "description": "Search jobs: submit, follow, results, model."},
            {"name": "datasets", "description": "Uploaded datasets."},
            {"name": "usage", "description": "What your jobs cost."},
            {"name": "health", "description": "Liveness and readiness."},
        ],
    )
    install_error_handlers(app)
    app.include_router(api_router)
    install_openapi(app)
    logging.getLogger("enas").setLevel(logging.INFO)
    return app


app = create_app()
