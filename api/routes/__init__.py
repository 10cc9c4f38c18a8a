"""One router per resource, gathered here."""

from fastapi import APIRouter

from api.routes import datasets, health, jobs, usage

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(datasets.router)
api_router.include_router(jobs.router)
api_router.include_router(usage.router)
