"""Tool arguments checked against the tool's JSON Schema (``parameters``).

``jsonschema`` is imported on first use (Jupyter's event system loads it anyway).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .base import ToolError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

#: the longest ``arguments`` string a call may carry
MAX_ARGUMENT_CHARS = 256 * 1024


def parse_arguments(name: str, raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """A call's ``arguments`` (OpenAI sends a JSON string) as an object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    if len(raw) > MAX_ARGUMENT_CHARS:
        raise ToolError(f"{name}: arguments are over {MAX_ARGUMENT_CHARS} characters")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ToolError(f"{name}: arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ToolError(f"{name}: arguments must be a JSON object")
    return value


def check_schema(parameters: Any) -> None:
    """Raise ``ValueError`` unless ``parameters`` is a JSON Schema of an object."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ValueError('parameters must be a JSON Schema with "type": "object"')
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        raise ValueError(f"parameters is not a valid JSON Schema: {exc.message}") from None


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def validate_arguments(name: str, parameters: dict[str, Any], args: Any) -> dict[str, Any]:
    """``args`` if they fit ``parameters``, else ``ToolError`` saying what is wrong where."""
    from jsonschema.exceptions import best_match

    if not isinstance(args, dict):
        raise ToolError(f"{name}: arguments must be a JSON object")
    validator = _validator(json.dumps(parameters, sort_keys=True))
    error = best_match(validator.iter_errors(args))
    if error is None:
        return args
    where = "/".join(str(p) for p in error.absolute_path)
    at = f" at '{where}'" if where else ""
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    raise ToolError(f"{name}: invalid arguments{at}: {message}")
