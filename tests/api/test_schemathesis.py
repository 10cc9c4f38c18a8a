"""Every route against its OpenAPI document (schemathesis): whatever the schema lets a client
send, the answer is no 5xx, and its status, content type and body are those documented; and
what the schema does not allow (out of bounds, wrong types) is no 5xx either. A new route gets
the same treatment without a test of its own."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 25  # per operation: the suite's time budget, not the search's depth


@pytest.mark.slow  # every route, EXAMPLES cases each: tens of seconds
def test_every_route_answers_as_documented(client, alice):
    """Through the test client's app (its database session is the test's, rolled back).
    Operations are driven by hand: schemathesis's pytest loader does not run on pytest 9."""
    from api.main import app

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS),
                             (GenerationMode.NEGATIVE, [not_a_server_error])):

            def call(case: schemathesis.Case, checks: list = checks) -> None:
                case.call_and_validate(headers={**alice, **(case.headers or {})}, checks=checks)

            check = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                             database=None, suppress_health_check=list(HealthCheck))(
                given(case=operation.as_strategy(mode))(lambda case: call(case)))

            try:
                check()
            except Unsatisfiable:  # nothing to get wrong: a route without parameters
                assert mode is GenerationMode.NEGATIVE, operation.label
            except BaseException as exc:
                exc.add_note(f"operation: {operation.label} ({mode.value} data)")
                raise
