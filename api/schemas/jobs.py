"""A job as stored (GET /jobs/{id}) and its history of epochs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
)

from api.schemas.examples import EPOCH_EXAMPLES, JOB_EXAMPLES
from api.schemas.results import (
    BaselinePublic,
    ConstraintsPublic,
    FinalMetrics,
    TrainingWarningPublic,
)
from api.schemas.search_report import SearchSummaryPublic
from api.schemas.usage import JobUsagePublic
from enas_core.config_migrations import shown
from enas_core.progress import eta_seconds
from enas_service.models import JobStatus


class JobPublic(BaseModel):
    """A job as stored: `JobPublic.model_validate(job_row)`; `dataset` and `eta_seconds` are
    derived from the row."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": JOB_EXAMPLES},
    )

    id: uuid.UUID
    name: str | None
    dataset_id: uuid.UUID | None
    status: JobStatus
    phase: Literal["preparing", "search", "select", "final", "baseline"] | None = Field(
        description="preparing (data, pricing tables), search, select (with "
        "select_candidates: the best candidates trained alone briefly), final (training the best "
        "architecture from scratch), or baseline (training the best random candidate the "
        "same way, when the job asked for `baseline: random`)."
    )
    epoch: int = Field(description="Last finished epoch of `phase` (1-based; 0 before any).")
    epochs: int = Field(description="Epochs in `phase`.")
    progress: float = Field(description="0..1 over the whole job, its epochs weighted by "
                            "their work (a search epoch does more than a training one).")
    best_val_acc: float | None = Field(description="Best validation accuracy found so far.")
    attempts: int = Field(description="Times a worker took the job (each run, and each "
                          "resume after a failure, a lost worker or a retry).")
    failures: int = Field(0, description="Attempts that ended in an error the job raised "
                          "(`ENAS_MAX_ATTEMPTS` of them fail it).")
    worker_losses: int = Field(0, description="Attempts lost to the infrastructure: the "
                               "worker was killed or stopped sending heartbeats.")
    retries: int = Field(0, description="Times POST /jobs/{id}/retry resumed the job.")
    cancel_requested: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    final: FinalMetrics | None = Field(
        validation_alias=AliasChoices("final", "result"), description="After final training."
    )
    constraints: ConstraintsPublic | None = Field(
        None, description="With limits, once the search has ended: were they satisfied?"
    )
    search_summary: SearchSummaryPublic | None = Field(
        None, validation_alias=AliasChoices("search_summary", "search_report"),
        description="Once the search has ended: did the controller's candidates beat random "
        "ones? The groups in full: GET /jobs/{id}/search-report.")
    baseline: BaselinePublic | None = Field(
        None, description="With `baseline: random`, once trained: the best random candidate's "
        "test accuracy and costs, next to `final`.")
    request: dict[str, Any] = Field(description="The config as submitted.")
    config: Annotated[dict[str, Any], BeforeValidator(shown)] = Field(
        description="The resolved engine RunConfig (of a job stored by an earlier release: in "
        "this release's form).")
    usage: JobUsagePublic | None = Field(
        None, description="What it has cost: device time per phase, the device, peak memory, "
        "images (from its first recorded epoch on)."
    )

    # Read from the row for the computed fields, not shown. The uploaded dataset's name comes
    # from the row's `dataset` (the repository loads it with the job: one join).
    builtin_dataset: str | None = Field(None, exclude=True)
    uploaded_dataset_name: str | None = Field(
        None, exclude=True,
        validation_alias=AliasChoices("dataset_name", AliasPath("dataset", "name")))
    progress_from: float | None = Field(None, exclude=True)
    progress_from_at: datetime | None = Field(None, exclude=True)

    @computed_field(description="The built-in dataset's name or the uploaded dataset's id.")
    @property
    def dataset(self) -> str:
        if self.builtin_dataset:
            return self.builtin_dataset
        return str(self.dataset_id) if self.dataset_id else "(deleted)"

    @computed_field(description="The built-in dataset's name or the name the upload was "
                    "given (its file's name unless named); null once the upload is deleted.")
    @property
    def dataset_name(self) -> str | None:
        return self.builtin_dataset or self.uploaded_dataset_name

    @computed_field(description="What should not be taken as a plain success: the warnings "
                    "of the trained network (`final.warnings`) and of the random baseline's.")
    @property
    def warnings(self) -> list[TrainingWarningPublic]:
        found = list(self.final.warnings) if self.final else []
        if self.baseline is not None and self.baseline.final is not None:
            found += [w.model_copy(update={"message": "random baseline: " + w.message})
                      for w in self.baseline.final.warnings]
        return found

    @computed_field(description="Estimated seconds to go while running: the progress left at "
                    "the rate measured since the running attempt's first progress report "
                    "(after its preparing and first steps). Null until 5% of progress has been "
                    "measured from there, and once the estimate has run out.")
    @property
    def eta_seconds(self) -> float | None:
        if self.status is not JobStatus.running or self.progress_from is None \
                or self.progress_from_at is None:
            return None
        return eta_seconds((_seconds(self.progress_from_at), self.progress_from),
                           (_seconds(self.updated_at), self.progress),
                           datetime.now(UTC).timestamp())


def _seconds(at: datetime) -> float:
    """A stored time as seconds since the epoch (a naive one, from SQLite, is UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class EpochPublic(BaseModel):
    """One finished epoch. Search epochs carry the controller's figures and the sampled
    architectures with their rewards; final epochs the trained network's accuracy."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": EPOCH_EXAMPLES},
    )

    phase: Literal["search", "select", "final", "baseline"]
    epoch: int
    epochs: int
    progress: float
    train_loss: float | None = None
    train_acc: float | None = None
    val_acc: float | None = None
    val_loss: float | None = None
    lr: float | None = None
    seconds: float | None = None
    controller_loss: float | None = None
    entropy: float | None = None
    baseline: float | None = None
    mean_reward: float | None = None
    sampled: list[dict[str, Any]] = Field(default_factory=list)
    best: dict[str, Any] | None = None
    created_at: datetime | None = None


class HistoryPublic(BaseModel):
    data: list[EpochPublic]
    count: int
