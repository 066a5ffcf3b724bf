"""The OpenAPI 3 document, generated from the route table and the msgspec schemas."""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec

from oui_jupyter.handlers.base import OpenAIKeyAuth, Operation, OuiHandler
from oui_jupyter.jsonlimits import MAX_JSON_DEPTH
from oui_jupyter.schemas.core import ErrorResponse

NAMED_GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")
OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*(?:\([^()]*\)[^()]*)*\)\?")
REF = "#/components/schemas/{name}"
OPENAI_KEY_401 = "No valid key: OpenAI's error (code invalid_api_key), WWW-Authenticate: Bearer"
OPENAI_KEY_ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["message", "type", "param", "code"],
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string", "enum": ["invalid_request_error"]},
                            "param": {"type": "null"},
                            "code": {"type": "string", "enum": ["invalid_api_key"]},
                        },
                    }
                },
            }
        }
    }
}
DESCRIPTION = (
    "Open WebUI's API shapes under oui/api/. Every request is refused with a JSON error: "
    f"400 for malformed JSON or JSON nested deeper than {MAX_JSON_DEPTH} arrays/objects, "
    "413 past the body size limit, 422 for invalid fields and for text holding a NUL "
    "character (U+0000) anywhere in a body or query, 404 for an unknown route or an id "
    "outside ^[A-Za-z0-9_-]{1,64}$."
)


def openapi_path(pattern: str) -> str:
    """``v1/chats/(?P<chat_id>...)/tags`` -> ``/oui/api/v1/chats/{chat_id}/tags``."""
    path = OPTIONAL_GROUP.sub("", pattern)
    path = NAMED_GROUP.sub(lambda m: "{" + m.group(1) + "}", path)
    path = path.replace("/?", "/").replace("\\.", ".").rstrip("$")
    return "/oui/api/" + path


def param_pattern(regex: str) -> str:
    """A route group's regex as an ECMA-262 pattern: ``[\\w-]{1,64}`` -> ``^[A-Za-z0-9_-]{1,64}$``
    (the request path is percent-encoded, so only ASCII word characters ever match)."""
    return "^" + regex.replace("\\w", "A-Za-z0-9_") + "$"


def _needs_body(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether an empty body (read as ``{}``) is refused: the schema requires a field."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return bool(schema.get("required"))


def _body_schema(schema: dict[str, Any], op: Operation) -> dict[str, Any]:
    """``schema`` and the operation's rules: at least one of ``body_needs_one_of`` present
    and not null, and ``body_rules``."""
    if not op.body_needs_one_of and op.body_rules is None:
        return schema
    combined: dict[str, Any] = {"allOf": [schema, *([op.body_rules] if op.body_rules else [])]}
    if op.body_needs_one_of:
        combined["anyOf"] = [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
            for name in op.body_needs_one_of
        ]
    return combined


NO_NUL = {"not": {"pattern": r"\u0000"}}
ANY_JSON = "JSONWithoutNUL"
ANY_JSON_REF = {"$ref": REF.format(name=ANY_JSON)}
ANY_JSON_SCHEMA = {
    "description": "Any JSON value; no string or key in it holds a NUL character",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", **NO_NUL},
        {"type": "array", "items": ANY_JSON_REF},
        {"type": "object", "propertyNames": NO_NUL, "additionalProperties": ANY_JSON_REF},
    ],
}


def _refuse_nul(node: Any) -> None:
    """Every string, key and free-form value refuses NUL characters, as the server does (422
    for a NUL anywhere in a body or query, known field or not)."""
    if isinstance(node, list):
        for value in node:
            _refuse_nul(value)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "string" and "enum" not in node and "format" not in node:
        node.update(NO_NUL)
    elif kind == "object" and node.get("additionalProperties") is not False:
        node.setdefault("propertyNames", NO_NUL)
        node.setdefault("additionalProperties", ANY_JSON_REF)
    elif kind == "array" and not node.get("items"):
        node["items"] = ANY_JSON_REF
    for key in ("items", "additionalProperties"):
        if node.get(key) == {}:
            node[key] = ANY_JSON_REF
    for name, value in list(node.get("properties", {}).items()):
        if value == {} or value == {"default": None}:
            node["properties"][name] = {**value, **ANY_JSON_REF}
    for key, value in node.items():
        if key not in ("not", "propertyNames", "if") and isinstance(value, (dict, list)):
            _refuse_nul(value)


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def openapi_document(routes: list[tuple[str, type[OuiHandler]]], version: str) -> dict[str, Any]:
    operations: list[tuple[str, str, list[tuple[str, str]], Operation, bool]] = []
    types: list[Any] = [ErrorResponse]
    for pattern, handler in routes:
        path = openapi_path(pattern)
        params = NAMED_GROUP.findall(pattern)  # (name, regex)
        for verb, op in handler.api.items():
            operations.append((path, verb, params, op, issubclass(handler, OpenAIKeyAuth)))
            for t in (op.body, op.query, op.response):
                if t is not None and t is not str:
                    types.append(t)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = dict(zip(map(id, types), schemas, strict=False))
    error = {"content": {"application/json": {"schema": by_type[id(ErrorResponse)]}}}
    paths: dict[str, dict[str, Any]] = {}
    for path, verb, params, op, key_401 in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{verb}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": param_pattern(regex)},
                }
                for name, regex in params
            ],
            "responses": {
                "200": {"description": "OK"},
                "403": {"description": "Not authenticated or not allowed", **error},
                "404": {"description": "Unknown, or not yours (or a malformed id)", **error},
                "422": {"description": "Invalid fields", **error},
            },
        }
        if key_401:
            entry["responses"]["401"] = {
                "description": OPENAI_KEY_401,
                **copy.deepcopy(OPENAI_KEY_ERROR_BODY),
            }
            entry["responses"]["403"]["description"] = "Not allowed"
        if op.response is not None:
            entry["responses"]["200"]["content"] = {
                op.content_type: {"schema": by_type.get(id(op.response), {"type": "string"})}
            }
        if op.query is not None:
            query_schema = by_type[id(op.query)]
            if "$ref" in query_schema:
                query_schema = components[query_schema["$ref"].rsplit("/", 1)[-1]]
            entry["parameters"] += _query_parameters(query_schema)
        if op.body_schema is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.body_type: {"schema": copy.deepcopy(op.body_schema)}},
            }
        elif op.body is not None:
            body = by_type.get(id(op.body), {})
            entry["requestBody"] = {
                # An empty body reads as {}: it is required only where {} is refused.
                "required": bool(op.body_needs_one_of) or _needs_body(body, components),
                "content": {op.body_type: {"schema": copy.deepcopy(_body_schema(body, op))}},
            }
        if "requestBody" in entry:
            entry["responses"]["400"] = {"description": "Malformed body", **error}
            entry["responses"]["413"] = {"description": "Body too large", **error}
        for status in op.statuses:
            entry["responses"].setdefault(str(status), {"description": "See message", **error})
        paths.setdefault(path, {})[verb] = entry
    _refuse_nul(components)
    _refuse_nul(paths)
    components[ANY_JSON] = ANY_JSON_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "oui-jupyter", "version": version, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "jupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
        "security": [{"jupyterToken": []}],
    }
