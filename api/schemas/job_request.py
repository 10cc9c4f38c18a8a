"""The job request (POST /jobs), generated from the engine's options table
(enas_core.options): one field per option, with its type, bounds and help."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, create_model
from pydantic_core import PydanticCustomError

from api.schemas.common import PLAIN_TEXT_PATTERN, PlainText
from api.schemas.examples import JOB_REQUEST_EXAMPLES
from enas_core.config import RunConfig
from enas_core.data.builtin import BUILTIN_DATASETS
from enas_core.options import OPTIONS, Option
from enas_core.presets import PRESETS


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


class _JobRequest(BaseModel):
    """What a job names besides its options: the dataset, a label and a preset."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": JOB_REQUEST_EXAMPLES},
    )

    dataset: PlainText = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
        description=f"A built-in dataset ({', '.join(BUILTIN_DATASETS)}; GET /datasets/builtin) "
        "or the id of an uploaded dataset (POST /datasets).",
        examples=["digits"],
    )
    name: PlainText | None = Field(
        None, max_length=200, description="A label for you.",
        json_schema_extra={"pattern": PLAIN_TEXT_PATTERN},
    )
    # An enum in the schema, so that clients list the presets rather than read them from text.
    preset: Literal[tuple(PRESETS)] | None = Field(  # type: ignore[valid-type]
        None, description="Start from a named setting (the options given override it): "
        + "; ".join(f"{name}: {text}" for name, text in PRESETS.items()) + ".",
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
