"""The OpenAI-compatible routes answer a missing or wrong key as OpenAI does: 401 with an
OpenAI-shaped error, so OpenAI clients raise ``AuthenticationError``; an authenticated caller
who may not use oui still gets 403 (``PermissionDeniedError``), and other routes keep 403."""

from __future__ import annotations

import copy
import json
from typing import Any

import openai
import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import AsyncHTTPClient

from oui_jupyter.handlers.base import OPENAI_KEY_ERROR

MESSAGES = [{"role": "user", "content": "Hi"}]


class RefusesBob(Authorizer):
    """Bob is authenticated but may not use oui."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return user.username != "bob"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(jp_server_config)
    config["ServerApp"]["authorizer_class"] = f"{__name__}.RefusesBob"
    return config


def client(oui_url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=oui_url, api_key=key, max_retries=0)


@pytest.mark.parametrize("key", ["wrong-token", ""], ids=["wrong key", "no key"])
async def test_the_openai_client_sees_a_bad_key_as_an_authentication_error(
    oui_url: str, key: str
) -> None:
    # with no key, the client is told to send no ``Authorization`` header at all
    headers: dict[str, Any] = {} if key else {"Authorization": openai.omit}
    async with client(oui_url, key or "unused") as oai:
        with pytest.raises(openai.AuthenticationError) as models:
            await oai.models.list(extra_headers=headers)
        with pytest.raises(openai.AuthenticationError) as chat:
            await oai.chat.completions.create(
                model="smollm2",
                messages=MESSAGES,  # type: ignore[arg-type]
                extra_headers=headers,
            )
        for refused in (models.value, chat.value):
            assert refused.status_code == 401
            assert refused.code == "invalid_api_key"
            assert refused.body == OPENAI_KEY_ERROR["error"]


@pytest.mark.parametrize("path", ["chat/completions", "v1/chat/completions", "models"])
async def test_the_401_body_and_header(oui_url: str, path: str) -> None:
    method = "GET" if path == "models" else "POST"
    for headers in ({}, {"Authorization": "Bearer wrong-token"}):
        response = await AsyncHTTPClient().fetch(
            f"{oui_url}/{path}",
            method=method,
            headers=headers,
            body="{}" if method == "POST" else None,
            raise_error=False,
        )
        assert response.code == 401, (path, headers)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.body) == OPENAI_KEY_ERROR


async def test_an_authenticated_caller_who_may_not_use_oui_still_gets_403(oui_url: str) -> None:
    async with client(oui_url, "bob-token") as oai:
        with pytest.raises(openai.PermissionDeniedError):
            await oai.models.list()
        with pytest.raises(openai.PermissionDeniedError):
            await oai.chat.completions.create(model="smollm2", messages=MESSAGES)  # type: ignore[arg-type]
    async with client(oui_url, "alice-token") as oai:  # alice may: the key works
        assert isinstance((await oai.models.list()).data, list)


async def test_other_routes_keep_jupyters_403(oui_url: str) -> None:
    for path in ("v1/chats/", "v1/models", "v1/chats/pinned"):
        response = await AsyncHTTPClient().fetch(
            f"{oui_url}/{path}", headers={"Authorization": "Bearer wrong-token"}, raise_error=False
        )
        assert response.code == 403, path
        assert "WWW-Authenticate" not in response.headers


async def test_the_openapi_document_describes_the_401(api: Any) -> None:
    import jsonschema

    paths = (await api("GET", "openapi.json")).json()["paths"]
    for path, verb in (
        ("/oui/api/models", "get"),
        ("/oui/api/chat/completions", "post"),
        ("/oui/api/v1/chat/completions", "post"),
    ):
        documented = paths[path][verb]["responses"]["401"]["content"]["application/json"]
        jsonschema.validate(OPENAI_KEY_ERROR, documented["schema"])
    assert "401" not in paths["/oui/api/v1/chats/new"]["post"]["responses"]
