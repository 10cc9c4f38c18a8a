"""What several resources' bodies share: plain text, the error body (RFC 9457), health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from api.schemas.examples import PROBLEM_EXAMPLES

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


class Problem(BaseModel):
    """An error (RFC 9457, application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None

    model_config = ConfigDict(json_schema_extra={"examples": PROBLEM_EXAMPLES})


class CheckPublic(BaseModel):
    status: Literal["ok", "error"]
    checks: dict[str, str] = Field(default_factory=dict)
