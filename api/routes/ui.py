"""Pages for people: the dashboard at `/` and the API docs at `/docs` and `/redoc`, every
asset served from `api/static` (vendored, pinned: see its vendor/README.md), so they work on a
machine with no internet. A Content-Security-Policy keeps each page from loading anything
from elsewhere, should a bundled script try."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_URL = "/static"
SWAGGER_UI_VERSION = "5.35.0"  # npm swagger-ui-dist
REDOC_VERSION = "2.5.4"  # npm redoc

# Swagger UI runs FastAPI's inline start-up script; both UIs inline styles and data: images.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'self'")
DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                 "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'self'")

router = APIRouter(include_in_schema=False)
Page = TypeVar("Page", HTMLResponse, FileResponse)


def _vendor(path: str) -> str:
    return f"{STATIC_URL}/vendor/{path}"


def _with_csp(response: Page, policy: str) -> Page:
    response.headers["Content-Security-Policy"] = policy
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/", response_class=FileResponse)
def dashboard() -> FileResponse:
    page = FileResponse(STATIC_DIR / "dashboard" / "index.html", media_type="text/html")
    return _with_csp(page, DASHBOARD_CSP)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API docs",
        swagger_js_url=_vendor("swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=_vendor("swagger-ui/swagger-ui.css"),
        swagger_favicon_url=f"{STATIC_URL}/dashboard/favicon.svg",
        # No badge from the public validator service; keep "Try it out" keys across reloads.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )
    return _with_csp(page, DOCS_CSP)


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API reference",
        redoc_js_url=_vendor("redoc/redoc.standalone.js"),
        redoc_favicon_url=f"{STATIC_URL}/dashboard/favicon.svg",
        with_google_fonts=False,
    )
    return _with_csp(page, DOCS_CSP)


def install_ui(app: FastAPI) -> None:
    """The pages and their static files; the app is made with docs_url=None, redoc_url=None."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
