"""SQLAlchemy 2 models: API keys, datasets, jobs, per-epoch history and architectures.

Every schema change goes through an Alembic migration in `migrations/versions/`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on Postgres and on SQLite (which stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})

JOB_STATUS = SAEnum(
    JobStatus,
    name="job_status",
    native_enum=False,
    create_constraint=True,
    length=16,
    values_callable=lambda enum_cls: [m.value for m in enum_cls],
)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings; the key is not stored
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    # What jobs read, relative to DATA_DIR: the validated data in the engine's trusted form
    # (enas_core.data.canonical); for an upload stored before that form existed, its own file.
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    num_samples: Mapped[int] = mapped_column(Integer)
    image_shape: Mapped[list[Any]]
    channels: Mapped[int] = mapped_column(Integer)
    num_classes: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[Any]]
    class_counts: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jobs: Mapped[list[Job]] = relationship(back_populates="dataset", passive_deletes=True)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key"),
        Index("ix_jobs_owner_created_at", "owner", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True, default=None
    )
    builtin_dataset: Mapped[str | None] = mapped_column(String(64), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    request: Mapped[dict[str, Any]]  # the submitted (flat) config, as given
    config: Mapped[dict[str, Any]]  # the resolved enas_core RunConfig, as to_dict() gives it

    status: Mapped[JobStatus] = mapped_column(JOB_STATUS, default=JobStatus.queued, index=True)
    # preparing | search | final | baseline
    phase: Mapped[str | None] = mapped_column(String(16), default=None)
    epoch: Mapped[int] = mapped_column(Integer, default=0)  # last finished epoch in `phase`
    epochs: Mapped[int] = mapped_column(Integer, default=0)  # epochs in `phase`
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    elapsed_s: Mapped[float] = mapped_column(Float, default=0.0)  # compute time of the epochs
    # The first progress the running attempt reported after its start, and when: the ETA's
    # rate is measured from there, past the preparing and the first steps (enas_core.progress).
    progress_from: Mapped[float | None] = mapped_column(Float, default=None)
    progress_from_at: Mapped[datetime | None] = mapped_column(default=None)
    best_val_acc: Mapped[float | None] = mapped_column(Float, default=None)
    best_arch: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    best_costs: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # its final network's
    checkpoint: Mapped[str | None] = mapped_column(Text, default=None)  # last recorded epoch
    resumed_from: Mapped[str | None] = mapped_column(Text, default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # JobResult "final"
    model_path: Mapped[str | None] = mapped_column(Text, default=None)  # relative to DATA_DIR
    input_shape: Mapped[list[Any] | None] = mapped_column(default=None)  # [C, H, W]
    # JobResult "pareto" (objectives, latency device/batch, evaluated, front) and "constraints"
    # (limits, modes, satisfied, message); stored when the search ends, also when it failed.
    pareto: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    constraints: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # JobResult "search_report" (the controller's candidates against random ones) and
    # "baseline" (the best random candidate trained with the same budget, when asked for).
    search_report: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # What the job has cost, summed over its attempts (from its UsageRecords; see usage.py).
    usage: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    # The lease: a worker owns a running job while it holds `lease` and keeps `heartbeat_at`
    # fresh; every write it makes is conditional on both.
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims, one per run
    # Attempts counted apart: errors the job raised (`max_attempts` of them fail it), workers
    # lost under it (a kill, a deploy, a lease that expired; `max_worker_losses`), and retries
    # its owner asked for (POST /jobs/{id}/retry; `max_retries`).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker_losses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the job was last sent to the broker: a job queued for long whose message the
    # broker no longer holds (a Redis that restarted empty) is sent again (worker.reaper).
    enqueued_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    lease: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(255), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    dataset: Mapped[Dataset | None] = relationship(back_populates="jobs")


class EpochRecord(Base):
    """One finished epoch of one phase of a job; written with the job's checkpoint path."""

    __tablename__ = "job_epochs"
    __table_args__ = (UniqueConstraint("job_id", "phase", "epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float)
    val_acc: Mapped[float | None] = mapped_column(Float, default=None)
    train_loss: Mapped[float | None] = mapped_column(Float, default=None)
    train_acc: Mapped[float | None] = mapped_column(Float, default=None)
    seconds: Mapped[float | None] = mapped_column(Float, default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    metrics: Mapped[dict[str, Any]]  # EpochMetrics.to_dict()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Architecture(Base):
    """The top-k architectures of a finished search; rank 1 is the one trained from scratch."""

    __tablename__ = "architectures"
    __table_args__ = (UniqueConstraint("job_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    val_acc: Mapped[float | None] = mapped_column(Float, default=None)
    arch: Mapped[dict[str, Any]]
    costs: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # its final network's
    feasible: Mapped[bool | None] = mapped_column(Boolean, default=None)  # within hard limits
    score: Mapped[float | None] = mapped_column(Float, default=None)  # val_acc * soft factor


class UsageRecord(Base):
    """Compute one attempt of a job spent in one phase, on one device: the ledger that
    GET /usage totals. It outlives the job (deleting a job does not undo what it cost)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", "phase"),
        Index("ix_usage_records_owner_updated_at", "owner", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: a ledger entry keeps naming its job after the job is deleted.
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    owner: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))  # search | final
    device: Mapped[str] = mapped_column(String(64))  # cuda:0, cpu
    device_name: Mapped[str] = mapped_column(String(200))  # the GPU's or the CPU's model
    device_info: Mapped[dict[str, Any]]  # + memory (GPU), threads and cores (CPU)
    memory_kind: Mapped[str] = mapped_column(String(32))  # cuda_allocated | process_rss
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # wall time holding the device
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    images: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
