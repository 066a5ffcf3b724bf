"""oui/api/openapi.json describes every route of the route table."""

from __future__ import annotations

from oui_jupyter.handlers.openapi import openapi_path
from oui_jupyter.handlers.routes import ROUTES


async def test_openapi_describes_every_route_and_verb(api):
    r = await api("GET", "openapi.json")
    assert r.code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    for pattern, handler in ROUTES:
        path = openapi_path(pattern)
        assert path in doc["paths"], path
        verbs = set(getattr(handler, "api", {}) or {"get": None})
        assert verbs <= set(doc["paths"][path]), (path, verbs)
    # Every $ref resolves.
    schemas = doc["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(doc):
        assert ref.rsplit("/", 1)[-1] in schemas, ref
    chat_get = doc["paths"]["/oui/api/v1/chats/{chat_id}"]["get"]
    assert chat_get["parameters"][0]["name"] == "chat_id"
    ref = chat_get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[ref.rsplit("/", 1)[-1]]["properties"]) >= {"id", "chat", "user_id", "pinned"}


def test_openapi_path_conversion():
    assert openapi_path(r"v1/chats(?:/list)?/?") == "/oui/api/v1/chats/"
    assert (
        openapi_path(r"v1/chats/(?P<chat_id>[\w-]{1,64})/tags")
        == "/oui/api/v1/chats/{chat_id}/tags"
    )
    assert openapi_path(r"openapi\.json") == "/oui/api/openapi.json"
