"""What a search found: architectures with their costs, limits, the trained network's
metrics, the random baseline and the Pareto front."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from api.schemas.examples import ARCHITECTURE_EXAMPLES, PARETO_EXAMPLES
from enas_core.spaces import arch_from_json


def _labelled(arch: dict[str, Any]) -> dict[str, Any]:
    """`arch` with `label`, the line its space prints it as (`str(arch)`), so that clients
    show any space's architecture without knowing its fields."""
    try:
        label = str(arch_from_json(arch))
    except (ValueError, KeyError, TypeError):  # not one this release reads: shown as stored
        return arch
    return {**arch, "label": label}


# An architecture's JSON form (its space's `to_json()`) with its display label.
ArchJson = Annotated[dict[str, Any], AfterValidator(_labelled)]
ARCH_HELP = ("The architecture in its space's JSON form (`space`; micro: `conv`, `reduce` "
             "with their text and op names; macro: `arc`, `text`, `layer_ops`), and `label`: "
             "the one line to show it by (micro: \"conv: ... | reduce: ...\"; macro: its text).")


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


class ArchitecturePublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,  # a stored row of the top-k
        json_schema_extra={"examples": ARCHITECTURE_EXAMPLES},
    )

    rank: int
    source: Literal["search", "final"] = Field(
        "final",
        description="search: the best so far while the search runs; final: the search's result.",
    )
    val_acc: float | None
    arch: ArchJson = Field(description=ARCH_HELP)
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


class BaselinePublic(BaseModel):
    """With `baseline: random`: the best random candidate, trained from scratch with the same
    final-training budget as the search's best."""

    model_config = ConfigDict(extra="ignore")

    arch: ArchJson = Field(description=ARCH_HELP)
    val_acc: float = Field(description="Its validation accuracy with the shared weights.")
    final: FinalMetrics | None = Field(None, description="After its training.")


class ParetoPointPublic(CostsPublic):
    """One architecture of the front: no other evaluated architecture is at least as good in
    every objective and better in one."""

    model_config = ConfigDict(extra="ignore")

    arch: ArchJson = Field(description=ARCH_HELP)
    val_acc: float
    feasible: bool | None = None
    score: float | None = None


class ParetoPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": PARETO_EXAMPLES})

    objectives: dict[str, Literal["max", "min"]]
    latency_device: str = Field(description="Where the predicted latencies apply.")
    latency_batch_size: int
    evaluated: int = Field(description="Architectures ranked on validation data.")
    front: list[ParetoPointPublic] = Field(description="The front, best val_acc first.")
    count: int = Field(description="Architectures on the front.")
    constraints: ConstraintsPublic | None = None
