"""The search report (GET /jobs/{id}/search-report) and its summary on the job: the
controller's candidates against random ones, and the selection stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.examples import SEARCH_REPORT_EXAMPLES
from api.schemas.results import ARCH_HELP, ArchJson


class RankedArchPublic(BaseModel):
    model_config = ConfigDict(extra="ignore")

    arch: ArchJson = Field(description=ARCH_HELP)
    val_acc: float = Field(description="Validation accuracy with the shared weights.")


class CandidateGroupPublic(BaseModel):
    """One group of architectures ranked on the validation split with the shared weights."""

    n: int = Field(description="Architectures drawn (a repeat counts each time).")
    distinct: int = Field(description="Distinct architectures among them.")
    mean: float | None = Field(description="Mean validation accuracy.")
    std: float | None = Field(description="Its standard deviation over the draws.")
    best: float | None = Field(description="The best validation accuracy.")
    top: list[RankedArchPublic] = Field(
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

    arch: ArchJson = Field(description=ARCH_HELP)
    source: Literal["search", "random"] | None = Field(
        description="Whether it came from the search's ranking or the uniform control group.")
    prior: float | None = Field(
        None, description="The search space's prior (learned from the project's tables of "
        "architectures trained alone; higher: tends to train better), by which the pool was "
        "chosen. None where the space has no prior.")
    shared_val_acc: float = Field(description="Validation accuracy with the shared weights.")
    alone_val_acc: list[float] = Field(
        description="Validation accuracy trained alone, after each round it took part in.")
    alone_train_acc: list[float] = Field(
        default_factory=list,
        description="Training accuracy trained alone, averaged over the epochs it had trained "
        "by the end of each round it took part in. A round ranks its candidates by the mean "
        "of their ranks in this and in alone_val_acc.")
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
        json_schema_extra={"examples": SEARCH_REPORT_EXAMPLES},
    )

    controller: CandidateGroupPublic | None = Field(
        description="The trained controller's samples; None for random search.")
    random: CandidateGroupPublic
    selection: SelectionPublic | None = Field(
        None, description="With select_candidates: every candidate trained alone, the rounds, "
        "and how far the shared weights' ranking agreed with them.")
