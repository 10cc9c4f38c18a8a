"""Request and response bodies (pydantic v2), apart from the SQLAlchemy models."""

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
    StrictBool,
    computed_field,
    create_model,
)
from pydantic_core import PydanticCustomError

from enas_core.config import RunConfig
from enas_core.config_migrations import shown
from enas_core.options import OPTIONS, Option
from enas_core.presets import PRESETS
from enas_core.progress import eta_seconds
from enas_service.models import JobStatus

ARCH_EXAMPLE = {
    "space": "micro",
    "nodes": 2,
    "conv": [0, 0, 1, 3, 1, 2, 0, 4],
    "reduce": [1, 1, 0, 3, 0, 4, 2, 2],
    "conv_text": "0 0 1 3 1 2 0 4",
    "reduce_text": "1 1 0 3 0 4 2 2",
    "conv_ops": [[0, "sep_conv_3x3", 1, "max_pool_3x3"], [1, "avg_pool_3x3", 0, "identity"]],
    "reduce_ops": [[1, "sep_conv_5x5", 0, "max_pool_3x3"], [0, "identity", 2, "avg_pool_3x3"]],
}


def _json_number(kind: str) -> BeforeValidator:
    """Numbers as JSON numbers: lax fields read `true` as 1 and the string "7" as 7, both a
    client's mistake. (10000000.0 stays an integer: JSON has one kind of number.)"""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("number_type", "Input should be a number, not a boolean")
        if isinstance(value, str):
            raise PydanticCustomError(f"{kind}_type", f"Input should be a valid {kind} (a JSON "
                                      "number, not a string)")
        return value

    return BeforeValidator(check)

# Labels and names are stored as text: no NUL (Postgres text cannot hold one) and no other
# control characters (a line break in a label breaks logs and listings).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def plain_text_problem(value: str) -> str | None:
    """Why `value` is not plain text, or None when it is."""
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is None:
        # "\ud800" in JSON decodes to a lone surrogate, which UTF-8 (and so Postgres) cannot
        # store: it was a 500 from the database driver.
        lone = next((c for c in value if 0xD800 <= ord(c) <= 0xDFFF), None)
        if lone is None:
            return None
        return (f"must be valid Unicode text (found the lone surrogate U+{ord(lone):04X}; "
                "encode characters outside the BMP as a surrogate pair or as UTF-8)")
    what = "NUL" if bad == "\x00" else f"U+{ord(bad):04X}"
    return f"must not contain control characters such as NUL or line breaks (found {what})"


def _plain_text(value: Any) -> Any:
    # Before pydantic's own str check, which refuses a lone surrogate with a less clear
    # message when the field has bounds (and passes it when not).
    if isinstance(value, str):
        problem = plain_text_problem(value)
        if problem:
            raise PydanticCustomError("plain_text", problem)
    return value


PlainText = Annotated[str, BeforeValidator(_plain_text)]

COSTS_EXAMPLE = {"params": 41234, "flops": 5120000, "latency_ms": 2.1, "memory_mb": 1.9}


class Problem(BaseModel):
    """An error (RFC 9457, application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Invalid input",
                    "status": 422,
                    "detail": "search_epochs: Input should be greater than or equal to 1",
                    "instance": "/jobs",
                    "errors": [{"loc": ["body", "search_epochs"], "msg": "..."}],
                }
            ]
        }
    )


# -- datasets ---------------------------------------------------------------------------------


class DatasetPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6f1c1e-8a53-4d47-9a0e-3d7b6f0c9a11",
                    "name": "my-digits",
                    "filename": "digits.npz",
                    "size_bytes": 1048576,
                    "num_samples": 1797,
                    "image_shape": [8, 8, 1],
                    "channels": 1,
                    "num_classes": 10,
                    "classes": [str(i) for i in range(10)],
                    "class_counts": {str(i): 180 for i in range(10)},
                    "created_at": "2026-11-28T08:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    filename: str
    size_bytes: int = Field(
        description="Bytes stored: the uploaded file and its validated copy, which jobs read "
        "(counted against ENAS_MAX_STORAGE_BYTES_PER_OWNER)")
    num_samples: int
    image_shape: list[int] = Field(description="[height, width, channels]")
    channels: int
    num_classes: int
    classes: list[str]
    class_counts: dict[str, int]
    created_at: datetime


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int


# -- jobs -------------------------------------------------------------------------------------


class _JobRequest(BaseModel):
    """What a job names besides its options: the dataset, a label and a preset."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"dataset": "digits", "preset": "quick"},
                {
                    "dataset": "0b6f1c1e-8a53-4d47-9a0e-3d7b6f0c9a11",
                    "name": "first search",
                    "space": "micro",
                    "search_epochs": 10,
                    "final_epochs": 20,
                    "layers": 6,
                    "channels": 20,
                    "nodes": 5,
                    "final_layers": 9,
                    "final_channels": 36,
                    "search_batch_size": 128,
                    "final_batch_size": 128,
                    "seed": 0,
                    "time_limit": 3600,
                },
                {
                    "dataset": "digits",
                    "preset": "quick",
                    "max_params": 250000,
                    "max_latency_ms": 5.0,
                    "constraint_mode": "soft",
                    "constraint_weight": -0.07,
                    "latency_device": "cpu",
                    "latency_batch_size": 1,
                },
            ]
        },
    )

    dataset: PlainText = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
        description="A built-in dataset (digits, mnist, fashion-mnist, cifar10) or the id of "
        "an uploaded dataset (POST /datasets).",
        examples=["digits"],
    )
    name: PlainText | None = Field(
        None, max_length=200, description="A label for you.",
        json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
    )
    preset: PlainText | None = Field(
        None, max_length=64, description=f"Start from a named setting: {', '.join(PRESETS)}.",
        json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
    )
    # Hand-off to an MLflow tracking server (the server's `mlflow` extra); not engine options.
    mlflow_experiment: PlainText | None = Field(
        None, min_length=1, max_length=200, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
        description="Log the job to this MLflow experiment: config as params, per-epoch "
        "metrics, the architecture and result.json as artifacts, the model (the server's "
        "ENAS_MLFLOW_URI, else MLflow's default tracking URI).",
    )
    mlflow_model_name: PlainText | None = Field(
        None, min_length=1, max_length=200, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
        description="Register the trained model under this name in the MLflow model registry "
        "(logs to MLflow as mlflow_experiment does).",
    )

    def options(self) -> dict[str, Any]:
        """The job options (enas_core.options) that were given."""
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k in OPTIONS}


def _option_field(option: Option) -> tuple[Any, Any]:
    """A JobCreate field for a job option: its type, bounds and help, from the one table."""
    default = RunConfig()
    text = f"{option.help[0].upper()}{option.help[1:]}. Default: the preset's, else " \
        f"{option.describe_default(default)}."
    bounds: dict[str, Any] = {}
    if option.minimum is not None:
        bounds["gt" if option.exclusive_minimum else "ge"] = option.minimum
    if option.maximum is not None:
        bounds["lt" if option.exclusive_maximum else "le"] = option.maximum
    # JSON numbers and booleans as such: the string "7" for an integer, or 1 for true, is a
    # client's mistake, not a value.
    annotation: Any
    if option.allowed() is not None:
        annotation = Literal[option.allowed()] | None  # type: ignore[valid-type]
    elif option.type is bool:
        annotation = StrictBool | None
    elif option.type is float:
        annotation = Annotated[float | None, _json_number("number")]
        bounds["allow_inf_nan"] = False
    else:
        annotation = Annotated[int | None, _json_number("integer")]
    return annotation, Field(None, description=text, **bounds)


JobCreate = create_model(
    "JobCreate",
    __base__=_JobRequest,
    __doc__="A search job. Only `dataset` is required: every option defaults to the preset's "
    "value, or to the engine's without a preset (`GET /jobs/{id}` shows the resolved config). "
    "The options are those of the CLI (`enas search --help`), with the same names.",
    **{name: _option_field(option) for name, option in OPTIONS.items()},
)


class CostsPublic(BaseModel):
    """What an architecture's final network costs, computed from the architecture: params and
    multiply-adds of one image exactly, latency (ms) predicted from the per-op table and peak
    inference memory (MiB) where they were computed, at the job's latency device and batch."""

    params: int | None = None
    flops: int | None = None
    latency_ms: float | None = None
    memory_mb: float | None = None


class LimitCheckPublic(BaseModel):
    """One limit next to what the trained network measures."""

    model_config = ConfigDict(extra="ignore")

    name: Literal["params", "flops", "latency_ms", "memory_mb"]
    limit: int | float
    measured: int | float | None = Field(validation_alias=AliasChoices("measured", "value"))
    met: bool | None
    mode: Literal["hard", "soft"] | None = None
    unit: str | None = None
    device: str | None = Field(None, description="Latency and memory: where measured.")
    batch_size: int | None = Field(None, description="Latency and memory: at this batch size.")


class ConstraintsPublic(BaseModel):
    """The job's limits and whether the search found an architecture within the hard ones."""

    model_config = ConfigDict(extra="ignore")

    limits: dict[str, int | float] = Field(description="e.g. {\"max_params\": 250000}")
    modes: dict[str, Literal["hard", "soft"]]
    weight: float | None = None
    soft_penalty: str | None = None
    latency_device: str | None = None
    latency_batch_size: int | None = None
    satisfied: bool | None = Field(
        None, description="Whether an architecture satisfies every hard limit."
    )
    message: str | None = Field(None, description="Why not, when none does.")


class TrainingWarningPublic(BaseModel):
    code: str = Field(
        description="val_acc_at_chance: the network fits its training data but scores at "
        "chance on validation data; did_not_learn: at chance on both.")
    message: str = Field(description="What was measured and what to try.")


class FinalMetrics(BaseModel):
    """The trained network, measured: test accuracy, params, FLOPs, latency and memory (at
    `latency_batch_size` on `device`), and with limits each one next to its measured value."""

    test_acc: float | None = None
    val_acc: float | None = None
    train_acc: float | None = Field(None, description="Training accuracy of the last epoch.")
    batch_size: int | None = Field(
        None, description="The batch it was trained with (a small train split gets a smaller "
        "one than final_batch_size: see final_min_steps_per_epoch).")
    warnings: list[TrainingWarningPublic] = Field(
        default_factory=list, description="Why this network should not be used as it is "
        "(e.g. at chance on validation data); empty when nothing is wrong.")
    params: int | None = None
    flops: int | None = None
    latency_ms: float | None = None
    memory_mb: float | None = None
    latency_batch_size: int | None = None
    device: str | None = None
    constraints: list[LimitCheckPublic] | None = Field(
        None, description="Each limit of the job, the measured value, met or not."
    )
    constraints_met: bool | None = None


# -- compute accounting -----------------------------------------------------------------------


class DevicePublic(BaseModel):
    """Where a job ran: a GPU with its memory, or the CPU's model with the threads torch used."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="cuda or cpu")
    device: str = Field(description="e.g. cuda:0, cpu")
    name: str = Field(description="The GPU's or the CPU's model name")
    memory_bytes: int | None = Field(None, description="GPU: its total memory")
    threads: int | None = Field(None, description="CPU: torch's intra-op threads")
    cores: int | None = Field(None, description="CPU: cores the worker may run on")


class PhaseUsagePublic(BaseModel):
    seconds: float = Field(description="Wall-clock seconds the phase held the device")
    cpu_seconds: float = Field(description="The worker process's CPU time over the phase")
    images: int = Field(description="Images through a network (training and evaluation)")
    peak_memory_bytes: int | None = Field(
        None, description="Peak device memory: the CUDA allocator's peak on a GPU, the "
        "process's peak resident memory on the CPU (see memory_kind)"
    )


class JobUsagePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device": {"type": "cuda", "device": "cuda:0", "name": "NVIDIA H100",
                               "memory_bytes": 85045231616},
                    "memory_kind": "cuda_allocated",
                    "devices": ["cuda:0"],
                    "attempts": 1,
                    "phases": {
                        "search": {"seconds": 3120.5, "cpu_seconds": 3300.1,
                                   "images": 8250000, "peak_memory_bytes": 6442450944},
                        "final": {"seconds": 5400.2, "cpu_seconds": 5600.0,
                                  "images": 31500000, "peak_memory_bytes": 9663676416},
                    },
                    "seconds": 8520.7,
                    "cpu_seconds": 8900.1,
                    "images": 39750000,
                    "peak_memory_bytes": 9663676416,
                }
            ]
        }
    )

    device: DevicePublic = Field(description="The device of its latest attempt")
    memory_kind: Literal["cuda_allocated", "process_rss"] | str
    devices: list[str] = Field(description="Every device its attempts used")
    attempts: int
    phases: dict[str, PhaseUsagePublic] = Field(description="search, final")
    seconds: float
    cpu_seconds: float
    images: int
    peak_memory_bytes: int | None = None


class PhaseTotalsPublic(BaseModel):
    seconds: float
    cpu_seconds: float
    images: int
    jobs: int


class DeviceTotalsPublic(BaseModel):
    device: str
    name: str
    seconds: float
    cpu_seconds: float
    images: int
    jobs: int
    peak_memory_bytes: int | None = None


class UsagePublic(BaseModel):
    """What an owner's jobs cost in a period: device time of the job phases active in it,
    per phase and per device (a GPU-minute is not a CPU-minute: read `devices`)."""

    owner: str
    since: datetime | None
    until: datetime | None
    jobs: int = Field(description="Jobs that used a device in the period (deleted ones too)")
    seconds: float = Field(description="Device seconds, all devices")
    cpu_seconds: float
    images: int
    phases: dict[str, PhaseTotalsPublic]
    devices: list[DeviceTotalsPublic]


class JobPublic(BaseModel):
    """A job as stored: `JobPublic.model_validate(job_row)`; `dataset` and `eta_seconds` are
    derived from the row."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5e0c2d8e-2f4b-4a8b-9d51-8f2c5b1f7e22",
                    "name": None,
                    "dataset": "digits",
                    "dataset_name": "digits",
                    "dataset_id": None,
                    "status": "running",
                    "phase": "search",
                    "epoch": 3,
                    "epochs": 10,
                    "progress": 0.21,
                    "best_val_acc": 0.83,
                    "eta_seconds": 312.0,
                    "attempts": 1,
                    "failures": 0,
                    "worker_losses": 0,
                    "retries": 0,
                    "cancel_requested": False,
                    "error": None,
                    "created_at": "2026-11-28T08:00:00Z",
                    "started_at": "2026-11-28T08:00:01Z",
                    "finished_at": None,
                    "updated_at": "2026-11-28T08:01:30Z",
                    "final": None,
                    "request": {"dataset": "digits", "preset": "quick"},
                    "config": {"search": {"epochs": 10}, "train": {"epochs": 10}, "seed": 0},
                }
            ]
        }
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
        json_schema_extra={
            "examples": [
                {
                    "phase": "search",
                    "epoch": 3,
                    "epochs": 10,
                    "progress": 0.15,
                    "train_loss": 1.21,
                    "train_acc": 0.58,
                    "val_acc": 0.62,
                    "lr": 0.048,
                    "seconds": 41.2,
                    "controller_loss": -0.02,
                    "entropy": 1.93,
                    "baseline": 0.55,
                    "mean_reward": 0.57,
                    "sampled": [{"arch": ARCH_EXAMPLE, "reward": 0.61}],
                    "best": {"arch": ARCH_EXAMPLE, "val_acc": 0.64},
                    "created_at": "2026-11-28T08:03:00Z",
                }
            ]
        },
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


class ArchitecturePublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # a stored row of the top-k
        json_schema_extra={
            "examples": [
                {
                    "rank": 1,
                    "source": "final",
                    "val_acc": 0.91,
                    "arch": ARCH_EXAMPLE,
                    "costs": COSTS_EXAMPLE,
                    "feasible": True,
                    "score": 0.91,
                    "final": {
                        "test_acc": 0.93,
                        "val_acc": 0.92,
                        "params": 41234,
                        "flops": 5120000,
                        "latency_ms": 2.3,
                        "memory_mb": 1.9,
                        "latency_batch_size": 1,
                        "device": "cuda",
                        "constraints": [
                            {"name": "params", "limit": 250000, "measured": 41234,
                             "met": True, "mode": "hard", "unit": "parameters"},
                        ],
                        "constraints_met": True,
                    },
                }
            ]
        }
    )

    rank: int
    source: Literal["search", "final"] = Field(
        "final",
        description="search: the best so far while the search runs; final: the search's result.",
    )
    val_acc: float | None
    arch: dict[str, Any] = Field(
        description="Integer form (conv, reduce; 4 integers per node: input, op, input, op), "
        "the same as text, and as op names (conv_ops, reduce_ops)."
    )
    costs: CostsPublic | None = Field(
        None, description="Its final network's computed costs (see CostsPublic)."
    )
    feasible: bool | None = Field(None, description="Within every hard limit.")
    score: float | None = Field(
        None, description="What candidates are ranked by: val_acc times the soft limits' factor."
    )
    final: FinalMetrics | None = Field(None, description="The trained network (rank 1).")


class ArchitecturesPublic(BaseModel):
    data: list[ArchitecturePublic]
    count: int


class CandidateGroupPublic(BaseModel):
    """One group of architectures ranked on the validation split with the shared weights."""

    n: int = Field(description="Architectures drawn (a repeat counts each time).")
    distinct: int = Field(description="Distinct architectures among them.")
    mean: float | None = Field(description="Mean validation accuracy.")
    std: float | None = Field(description="Its standard deviation over the draws.")
    best: float | None = Field(description="The best validation accuracy.")
    top: list[dict[str, Any]] = Field(
        default_factory=list, description="The top-k distinct: `{arch, val_acc}`, best first.")


class DifferencePublic(BaseModel):
    mean: float = Field(description="Controller mean minus random mean (accuracy, not points).")
    ci95: list[float] = Field(description="Its 95% percentile bootstrap interval [lo, hi].")
    bootstrap: int = Field(description="Bootstrap resamples.")


class SelectionSummaryPublic(BaseModel):
    """The selection stage (option `select_candidates`): the search's best candidates trained
    alone briefly, halved successively, and how far the shared weights' ranking agreed."""

    model_config = ConfigDict(extra="ignore")

    kendall_tau: float | None = Field(
        description="Kendall tau between the candidates' validation accuracy with the shared "
        "weights and trained alone (first round): 1 the same order, 0 none, -1 reversed.")
    trust: Literal["high", "some", "none", "unknown"] = Field(
        description="The tau in words: high (>= 0.6), some (>= 0.3), none, or unknown.")
    summary: str = Field(description="The agreement in one sentence.")
    changed_pick: bool = Field(
        description="True when the architecture trained in full is not the shared weights' best.")
    shared_pick_place: int = Field(
        description="Where the shared weights' best placed among the candidates trained alone.")
    rounds: list[dict[str, int]] = Field(
        description="Per round: the candidates trained and the epoch they reached.")
    epochs_trained: int = Field(description="Stand-alone epochs trained in all.")


class SelectionCandidatePublic(BaseModel):
    model_config = ConfigDict(extra="ignore")

    arch: dict[str, Any]
    source: Literal["search", "random"] | None = Field(
        description="Whether it came from the search's ranking or the uniform control group.")
    shared_val_acc: float = Field(description="Validation accuracy with the shared weights.")
    alone_val_acc: list[float] = Field(
        description="Validation accuracy trained alone, after each round it took part in.")
    picked: bool


class SelectionPublic(SelectionSummaryPublic):
    candidates: list[SelectionCandidatePublic]
    picked: int = Field(description="The index of the candidate trained in full.")


class SearchSummaryPublic(BaseModel):
    """What the search bought: the controller's candidates against as many drawn uniformly
    from the space, ranked on the same validation data with the same shared weights. Those
    weights were trained on the controller's samples (unless shared_sampling is uniform),
    which favours its candidates; `baseline: random` compares test accuracies after final
    training."""

    model_config = ConfigDict(extra="ignore")

    strategy: Literal["enas", "random"]
    verdict: Literal["controller better", "no clear difference", "random better"] | None = Field(
        description="From the interval: above zero, containing it, below it. None for "
        "random search (no controller).")
    summary: str | None = Field(description="The comparison in one sentence.")
    difference: DifferencePublic | None = None
    entropy: dict[str, float] | None = Field(
        None, description="The controller's mean entropy per architecture (nats), first and "
        "last search epoch: how far it moved from where it started.")
    selection: SelectionSummaryPublic | None = Field(
        None, description="With select_candidates: how far the shared weights' ranking agreed "
        "with the candidates trained alone (the full table in GET /jobs/{id}/search-report).")


class SearchReportPublic(SearchSummaryPublic):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "strategy": "enas",
                    "verdict": "controller better",
                    "summary": "the controller's candidates beat random ones by +3.1 points "
                               "[+0.9, +5.4] (95% bootstrap interval)",
                    "difference": {"mean": 0.031, "ci95": [0.009, 0.054], "bootstrap": 2000},
                    "entropy": {"first": 57.2, "last": 54.9},
                    "controller": {"n": 20, "distinct": 20, "mean": 0.884, "std": 0.03,
                                   "best": 0.93, "top": [{"arch": ARCH_EXAMPLE,
                                                          "val_acc": 0.93}]},
                    "random": {"n": 20, "distinct": 20, "mean": 0.853, "std": 0.05,
                               "best": 0.92, "top": [{"arch": ARCH_EXAMPLE, "val_acc": 0.92}]},
                }
            ]
        },
    )

    controller: CandidateGroupPublic | None = Field(
        description="The trained controller's samples; None for random search.")
    random: CandidateGroupPublic
    selection: SelectionPublic | None = Field(
        None, description="With select_candidates: every candidate trained alone, the rounds, "
        "and how far the shared weights' ranking agreed with them.")


class BaselinePublic(BaseModel):
    """With `baseline: random`: the best random candidate, trained from scratch with the same
    final-training budget as the search's best."""

    model_config = ConfigDict(extra="ignore")

    arch: dict[str, Any]
    val_acc: float = Field(description="Its validation accuracy with the shared weights.")
    final: FinalMetrics | None = Field(None, description="After its training.")


class ParetoPointPublic(CostsPublic):
    """One architecture of the front: no other evaluated architecture is at least as good in
    every objective and better in one."""

    model_config = ConfigDict(extra="ignore")

    arch: dict[str, Any] = Field(description="Integer, text and op-name forms.")
    val_acc: float
    feasible: bool | None = None
    score: float | None = None


class ParetoPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "objectives": {"val_acc": "max", "params": "min", "latency_ms": "min"},
                    "latency_device": "cpu",
                    "latency_batch_size": 1,
                    "evaluated": 12,
                    "front": [{"arch": ARCH_EXAMPLE, "val_acc": 0.91, **COSTS_EXAMPLE,
                              "feasible": True, "score": 0.91}],
                    "count": 1,
                    "constraints": None,
                }
            ]
        }
    )

    objectives: dict[str, Literal["max", "min"]]
    latency_device: str = Field(description="Where the predicted latencies apply.")
    latency_batch_size: int
    evaluated: int = Field(description="Architectures ranked on validation data.")
    front: list[ParetoPointPublic] = Field(description="The front, best val_acc first.")
    count: int = Field(description="Architectures on the front.")
    constraints: ConstraintsPublic | None = None


class CheckPublic(BaseModel):
    status: Literal["ok", "error"]
    checks: dict[str, str] = Field(default_factory=dict)
