"""Service settings: one pydantic-settings class read from `ENAS_*` environment variables.

With nothing set, the service runs embedded: SQLite under the data directory and a kombu
filesystem broker there too, so `enas serve` needs no server. Production sets
`ENAS_DATABASE_URL` (Postgres, psycopg 3) and `ENAS_BROKER_URL` (Redis).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_SCHEMES = ("postgresql+psycopg", "sqlite")
BROKER_SCHEMES = ("redis", "rediss", "filesystem", "memory")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENAS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("data"), description="Datasets, checkpoints, models (and the embedded DB/broker)."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty: SQLite at DATA_DIR/enas.db (embedded mode)."
    )
    broker_url: str = Field(
        "", description="Celery broker; empty: kombu filesystem transport under DATA_DIR/broker."
    )
    queue: str = "gpu"
    device: str = Field("auto", description="'auto' (cuda when available, else cpu), or a device.")
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1)
    max_decompressed_bytes: int = Field(
        1024**3, ge=1,
        description="What one upload may decompress to (zip members, gzip streams): with the "
        "compression-ratio check, the bound on an upload's memory while it is validated.",
    )
    max_decoded_bytes: int = Field(
        1024**3, ge=1,
        description="What one dataset's images may decode to (its pixels in memory, as stored "
        "and as a job loads them): a zip of images is refused from their headers, before "
        "they are decoded.",
    )
    max_storage_bytes_per_owner: int = Field(
        20 * 1024**3, ge=0,
        description="What one owner's datasets may take on disk (each upload's file and its "
        "validated copy): an upload that would pass it is refused with 413 before its data "
        "is written (0: no limit).",
    )
    upload_parsers: int = Field(
        2, ge=1, le=64,
        description="Uploads validated at once by one API process, each in a child process "
        "that exits after it (so its memory goes back to the system); the others wait, "
        "holding no database connection (nor while they are parsed).",
    )
    max_attempts: int = Field(
        3, ge=1, le=100, description="A job whose own code raised this many times fails."
    )
    max_worker_losses: int = Field(
        10, ge=1, le=1000,
        description="A job whose worker was lost (killed, no heartbeat) this many times fails.",
    )
    max_retries: int = Field(
        5, ge=0, le=1000, description="How many times POST /jobs/{id}/retry may resume a job."
    )
    latency_cache: Path | None = Field(
        None, description="Where measured latency tables are kept (ENAS_LATENCY_CACHE, which "
        "the engine's CLI reads too); empty: DATA_DIR/cache/latency.",
    )
    orphan_after_s: float = Field(
        3600.0, gt=0,
        description="Temp files, and dataset or job folders without a database row, untouched "
        "this long are removed (left by a process killed mid-upload or mid-delete).",
    )
    requeue_after_s: float = Field(
        60.0, gt=0,
        description="A job queued this long whose message the broker no longer holds is sent "
        "again (a Redis restarted empty loses its messages; the database keeps the jobs).",
    )
    heartbeat_interval_s: float = Field(5.0, gt=0)
    cancel_poll_s: float = Field(1.0, gt=0, description="How often a running job reads its row.")
    stale_after_s: float = Field(60.0, gt=0, description="A heartbeat older than this is lost.")
    reaper_interval_s: float = Field(30.0, gt=0)
    visibility_timeout_s: int = Field(7 * 24 * 3600, ge=60, description="Longer than any job.")
    worker_pool: Literal["prefork", "solo", "threads"] = "prefork"
    torch_threads: int | None = Field(
        None, ge=1, le=4096,
        description="CPU threads torch uses in a worker; empty: OMP_NUM_THREADS if set, else "
        "the cores the worker may use (its CPU affinity and cgroup quota). Idle threads sleep "
        "(OMP_WAIT_POLICY=PASSIVE unless set).",
    )
    max_queued_jobs_per_owner: int = Field(
        100, ge=0, le=1_000_000, description="A submission while the owner has this many "
        "jobs waiting in the queue is refused with 429 and Retry-After (0: no limit).")
    max_running_jobs_per_owner: int = Field(
        0, ge=0, le=1_000_000, description="A worker does not start a job while its owner has "
        "this many running: the job stays queued and is looked at again every "
        "quota_recheck_s (0: no limit).")
    quota_recheck_s: float = Field(30.0, gt=0, le=3600)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Concurrency of one API process, sized together: at most `db_pool_size` requests hold a
    # database session at once (the rest wait up to `api_wait_s` without holding a thread,
    # then answer 503 with Retry-After), every one of them has a thread (`api_threads` >=
    # db_pool_size) and a connection (the pool), so none waits on the pool while holding one.
    db_pool_size: int = Field(10, ge=1, le=1000, description="Connections per process.")
    db_max_overflow: int = Field(
        5, ge=0, le=1000, description="Extra connections for work outside requests (health "
        "checks, the enqueue-failure path).")
    db_pool_timeout_s: float = Field(
        5.0, gt=0, le=600, description="A checkout that waits longer fails (answered 503).")
    api_threads: int = Field(
        40, ge=1, le=10_000, description="Threads of an API process (blocking database work "
        "and file writes); at least db_pool_size.")
    api_wait_s: float = Field(
        3.0, gt=0, le=600, description="How long a request waits for a database session "
        "before it is answered 503 (overloaded).")
    api_key_cache_s: float = Field(
        2.0, ge=0, le=300, description="How long an API process takes a key it found valid "
        "for valid without looking it up again (0: every request looks its key up): a revoked "
        "key is refused within this long. The lookup was a third of a cached read's time.")
    # A request body is read before the request takes a database slot (api.bodies): these
    # bound what a client that stalls or sends too much can hold (a socket, a buffer).
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="A JSON body not complete within this long, or an "
        "upload that sends nothing for this long, is answered 408.")
    max_json_bytes: int = Field(
        1024 * 1024, ge=1024, le=1024**3,
        description="The largest request body that is not an upload (413 past it).")
    sse_poll_s: float = Field(0.5, gt=0)
    mlflow_uri: str = Field(
        "", description="An MLflow tracking server: every job logs to it (needs the mlflow "
        "extra). Empty: only jobs that ask (mlflow_experiment) log, to MLflow's default."
    )
    mlflow_experiment: str = Field("enas", description="The experiment of jobs that name none.")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value
        if value.startswith(("postgres://", "postgresql://")):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"ENAS_DATABASE_URL must start with postgresql:// (psycopg 3) or sqlite://, "
                f"got {scheme!r}"
            )
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if value and value.split("://", 1)[0] not in BROKER_SCHEMES:
            raise ValueError(
                f"ENAS_BROKER_URL must be one of {', '.join(s + '://' for s in BROKER_SCHEMES)}"
            )
        return value

    @model_validator(mode="after")
    def _threads_cover_the_pool(self) -> Settings:
        if self.api_threads < self.db_pool_size:
            raise ValueError(
                f"ENAS_API_THREADS ({self.api_threads}) must be at least ENAS_DB_POOL_SIZE "
                f"({self.db_pool_size}): each request holding a connection needs a thread"
            )
        return self

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'enas.db'}"
        if not self.broker_url:
            self.broker_url = "filesystem://localhost/"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_folder(self) -> Path:
        """The message folder of the filesystem broker (embedded mode)."""
        return self.data_dir / "broker"

    def resolve_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
