"""Job options, checked against the API's own schema before anything is sent.

`job_schema.json` is the JSON schema of the API's `JobCreate` body (POST /jobs), taken from the
server's `/openapi.json` by `clients/python/update_schema.py`; a test fails when it drifts from
the live service. The checks here (names, types, enums, bounds, lengths) give the same
messages as the server's 422, naming the field, so a typo fails before a dataset is uploaded;
the server stays the authority (and a client older than the server asks it for its schema
before refusing an option it does not know).
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any

from .errors import ValidationError

SCHEMA_FILE = "job_schema.json"
_DROP = frozenset({"examples", "title", "example"})


@cache
def packaged_schema() -> dict[str, Any]:
    """The JobCreate schema this client was released with."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def schema_from_openapi(openapi: dict[str, Any]) -> dict[str, Any]:
    """The JSON body schema of POST /jobs in an OpenAPI document, with every `$ref` resolved
    and examples and titles dropped (they say nothing about what is valid)."""
    try:
        content = openapi["paths"]["/jobs"]["post"]["requestBody"]["content"]
        schema = content["application/json"]["schema"]
    except (KeyError, TypeError) as exc:
        raise ValueError("the OpenAPI document has no JSON body for POST /jobs") from exc
    components = openapi.get("components", {}).get("schemas", {})
    return _normalise(schema, components, {**schema.get("$defs", {})})


def _normalise(node: Any, components: dict[str, Any], defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_normalise(v, components, defs) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        target = defs.get(name) if "/$defs/" in ref else components.get(name)
        if target is None:
            raise ValueError(f"unresolved $ref {ref}")
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _normalise(merged, components, defs)
    return {
        k: _normalise(v, components, defs)
        for k, v in node.items()
        if k not in _DROP and k != "$defs"
    }


def option_names(schema: dict[str, Any] | None = None) -> list[str]:
    return list((schema or packaged_schema()).get("properties", {}))


# -- checking ---------------------------------------------------------------------------------


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list | tuple)
    if kind == "object":
        return isinstance(value, dict)
    return True


_TYPE_WORDS = {
    "integer": "a valid integer",
    "number": "a valid number",
    "string": "a valid string",
    "boolean": "a valid boolean",
    "array": "a valid list",
    "object": "a valid dictionary",
}


def _check(value: Any, schema: dict[str, Any]) -> str | None:
    """None when `value` fits `schema`, else the message (pydantic's wording)."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = schema[key]
            messages = [_check(value, b) for b in branches]
            if any(m is None for m in messages):
                return None
            typed = [
                m for b, m in zip(branches, messages, strict=True)
                if b.get("type") != "null" and m is not None
            ]
            # The branch of the value's own type explains best (a bound, not "not null").
            for b, m in zip(branches, messages, strict=True):
                kinds = b.get("type")
                if m is not None and isinstance(kinds, str) and _type_ok(value, kinds):
                    return m
            return typed[0] if typed else messages[0]
    for sub in schema.get("allOf", []):
        message = _check(value, sub)
        if message:
            return message
    if "const" in schema and value != schema["const"]:
        return f"Input should be {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        options = [repr(v) for v in schema["enum"]]
        listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + \
            options[-1]
        return f"Input should be {listed}"
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind or []
    if kinds and not any(_type_ok(value, k) for k in kinds):
        return f"Input should be {_TYPE_WORDS.get(kinds[0], kinds[0])}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return "Input should be a finite number"
        if "minimum" in schema and value < schema["minimum"]:
            return f"Input should be greater than or equal to {schema['minimum']}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return f"Input should be greater than {schema['exclusiveMinimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"Input should be less than or equal to {schema['maximum']}"
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            return f"Input should be less than {schema['exclusiveMaximum']}"
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            n = schema["minLength"]
            return f"String should have at least {n} character{'s' * (n != 1)}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            n = schema["maxLength"]
            return f"String should have at most {n} character{'s' * (n != 1)}"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"String should match pattern '{schema['pattern']}'"
    return None


def problems(options: dict[str, Any], schema: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every problem with `options`, as the server's problem+json `errors` entries."""
    schema = schema or packaged_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    found: list[dict[str, Any]] = []
    for name in schema.get("required", []):
        if options.get(name) is None:
            found.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
    for name, value in options.items():
        if name not in properties:
            if schema.get("additionalProperties", True) is False:
                close = difflib.get_close_matches(name, properties, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                found.append({"loc": ["body", name], "msg": f"Extra inputs are not permitted"
                              f"{hint}", "type": "extra_forbidden"})
            continue
        message = _check(value, properties[name])
        if message:
            found.append({"loc": ["body", name], "msg": message, "type": "value_error"})
    return found


def validate_options(options: dict[str, Any], schema: dict[str, Any] | None = None) -> None:
    """Raise `ValidationError` (status 422, `field` set) when `options` break the schema."""
    errors = problems(options, schema)
    if errors:
        detail = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors)
        raise ValidationError(
            422, detail, title="Invalid input (checked by the client)",
            field=str(errors[0]["loc"][-1]), errors=errors,
        )


def without_nulls(options: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in options.items() if v is not None}
