"""enas-client: a small typed client for the enas-service REST API (no torch needed).

    from enas_client import Client

    client = Client()                                  # ENAS_URL, ENAS_KEY
    dataset = client.upload_dataset("digits.npz")
    job = client.submit(dataset, preset="quick", search_epochs=5)
    job.wait(progress=True)
    job.architecture(), job.history(), job.download_model("model.onnx", format="onnx")
"""

from ._http import RetryPolicy
from .client import Client
from .errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    EnasError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from .events import Event
from .jobs import Job, JobFailedError
from .options import option_names, validate_options
from .resources import Architecture, Dataset

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Architecture",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "Dataset",
    "EnasError",
    "Event",
    "Job",
    "JobFailedError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "ValidationError",
    "option_names",
    "validate_options",
]
