"""The FastAPI application: `uvicorn api.main:app` or `create_app()`."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.bodies import BodyGuard
from api.errors import install_error_handlers
from api.openapi import install_openapi
from api.routes import api_router
from api.routes.ui import install_ui
from enas_service.db import ping_idle_connections_only

DESCRIPTION = """
Efficient Neural Architecture Search as a service: upload a dataset (or name a built-in one),
submit a search job, follow it, fetch the best architecture and the trained model.

Every route but `/healthz`, `/readyz`, these docs and the dashboard's page (`/`) needs
`Authorization: Bearer <API key>` (`enas keys create` makes one).
Errors are `application/problem+json`.
"""


def create_app() -> FastAPI:
    ping_idle_connections_only()  # a ping per request was one of a read's three round trips
    app = FastAPI(
        title="enas-service",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served from vendored assets by api.routes.ui
        redoc_url=None,
        openapi_tags=[
            {"name": "jobs", "description": "Search jobs: submit, follow, results, model."},
            {"name": "datasets", "description": "Uploaded datasets."},
            {"name": "usage", "description": "What your jobs cost."},
            {"name": "health", "description": "Liveness and readiness."},
        ],
    )
    install_error_handlers(app)
    app.add_middleware(BodyGuard)  # bodies read (bounded, in time) before a database slot
    app.include_router(api_router)
    install_openapi(app)
    install_ui(app)
    logging.getLogger("enas").setLevel(logging.INFO)
    return app


app = create_app()
