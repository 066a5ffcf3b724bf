"""The OpenAPI 3 document, generated from the route table and the msgspec schemas."""
from __future__ import annotations

import re
from typing import Any

import msgspec

from oui_jupyter.handlers.base import OuiHandler, Operation
from oui_jupyter.schemas.core import ErrorResponse

NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*(?:\([^()]*\)[^()]*)*\)\?")
REF = "#/components/schemas/{name}"


def openapi_path(pattern: str) -> str:
    """``v1/chats/(?P<chat_id>...)/tags`` -> ``/oui/api/v1/chats/{chat_id}/tags``."""
    path = OPTIONAL_GROUP.sub("", pattern)
    path = NAMED_GROUP.sub(lambda m: "{" + m.group(1) + "}", path)
    path = path.replace("/?", "/").replace("\\.", ".").rstrip("$")
    return "/oui/api/" + path


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def openapi_document(routes: list[tuple[str, type[OuiHandler]]], version: str) -> dict[str, Any]:
    operations: list[tuple[str, str, list[str], Operation]] = []
    types: list[Any] = [ErrorResponse]
    for pattern, handler in routes:
        path = openapi_path(pattern)
        params = NAMED_GROUP.findall(pattern)
        for verb, op in handler.api.items():
            operations.append((path, verb, params, op))
            for t in (op.body, op.query, op.response):
                if t is not None and t is not str:
                    types.append(t)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = dict(zip(map(id, types), schemas))
    error = {"content": {"application/json": {"schema": by_type[id(ErrorResponse)]}}}
    paths: dict[str, dict[str, Any]] = {}
    for path, verb, params, op in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{verb}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ],
            "responses": {
                "200": {"description": "OK"},
                "403": {"description": "Not authenticated or not allowed", **error},
                "404": {"description": "Unknown, or not yours", **error},
                "422": {"description": "Invalid fields", **error},
            },
        }
        if op.response is not None:
            entry["responses"]["200"]["content"] = {
                op.content_type: {"schema": by_type.get(id(op.response), {"type": "string"})}
            }
        if op.query is not None:
            query_schema = by_type[id(op.query)]
            if "$ref" in query_schema:
                query_schema = components[query_schema["$ref"].rsplit("/", 1)[-1]]
            entry["parameters"] += _query_parameters(query_schema)
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.body_type: {"schema": by_type.get(id(op.body), {})}},
            }
            entry["responses"]["400"] = {"description": "Malformed body", **error}
            entry["responses"]["413"] = {"description": "Body too large", **error}
        for status in op.statuses:
            entry["responses"].setdefault(str(status), {"description": "See message", **error})
        paths.setdefault(path, {})[verb] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "oui-jupyter", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "jupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
        "security": [{"jupyterToken": []}],
    }
