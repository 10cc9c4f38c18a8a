"""Request and response bodies (pydantic v2), apart from the SQLAlchemy models: one module per
resource, the generated job request in `job_request`, the OpenAPI examples in `examples`.
The public names are re-exported here (`from api.schemas import JobPublic`)."""

from api.schemas.common import (
    PLAIN_TEXT_PATTERN,
    CheckPublic,
    PlainText,
    Problem,
    plain_text_problem,
)
from api.schemas.datasets import (
    BuiltinDatasetPublic,
    BuiltinDatasetsPublic,
    DatasetPublic,
    DatasetsPublic,
    UploadFormatPublic,
    UploadFormatsPublic,
)
from api.schemas.job_request import JobCreate
from api.schemas.jobs import EpochPublic, HistoryPublic, JobPublic, JobsPublic
from api.schemas.results import (
    ArchitecturePublic,
    ArchitecturesPublic,
    BaselinePublic,
    ConstraintsPublic,
    CostsPublic,
    FinalMetrics,
    LimitCheckPublic,
    ParetoPointPublic,
    ParetoPublic,
    TrainingWarningPublic,
)
from api.schemas.search_report import (
    CandidateGroupPublic,
    DifferencePublic,
    SearchReportPublic,
    SearchSummaryPublic,
    SelectionCandidatePublic,
    SelectionPublic,
    SelectionSummaryPublic,
)
from api.schemas.usage import (
    DevicePublic,
    DeviceTotalsPublic,
    JobUsagePublic,
    PhaseTotalsPublic,
    PhaseUsagePublic,
    UsagePublic,
)

__all__ = [
    "PLAIN_TEXT_PATTERN", "ArchitecturePublic", "ArchitecturesPublic", "BaselinePublic",
    "BuiltinDatasetPublic", "BuiltinDatasetsPublic", "CandidateGroupPublic", "CheckPublic",
    "ConstraintsPublic", "CostsPublic", "DatasetPublic", "DatasetsPublic", "DevicePublic",
    "DeviceTotalsPublic", "DifferencePublic", "EpochPublic", "FinalMetrics", "HistoryPublic",
    "JobCreate", "JobPublic", "JobUsagePublic", "JobsPublic", "LimitCheckPublic",
    "ParetoPointPublic", "ParetoPublic", "PhaseTotalsPublic", "PhaseUsagePublic", "PlainText",
    "Problem", "SearchReportPublic", "SearchSummaryPublic", "SelectionCandidatePublic",
    "SelectionPublic", "SelectionSummaryPublic", "TrainingWarningPublic", "UploadFormatPublic",
    "UploadFormatsPublic", "UsagePublic", "plain_text_problem",
]
