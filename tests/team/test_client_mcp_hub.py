"""``oui/mcp`` on alice's server behind a real JupyterHub (``support.hub``, team client
mode): the hub's OAuth is the door. Her hub token lets the SDK's client in, through the
hub's proxy, to her own files; bob's token and no token are refused (401)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support.hub import Hub

NOTE = "The flux capacitor needs 1.21 gigawatts.\n"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    return {
        "service_args": ("--OuiJupyter.local_model_enabled=False",),
        "user_args": (
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.index_workspace=False",
        ),
    }


@pytest.fixture(scope="module")
def alice(hub: Hub) -> Hub:
    hub.spawn("alice")
    (Path(hub.homes / "alice") / "notes.md").write_text(NOTE)
    return hub


async def read_notes(url: str, token: str) -> tuple[list[str], str]:
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), cache=None) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            read = await client.call_tool("read_file", {"path": "notes.md"})
            return names, read.content[0].text


def test_her_hub_token_opens_her_workspace_to_an_agent(alice: Hub) -> None:
    hub = alice
    url = f"{hub.url}/user/alice/oui/mcp"
    names, text = asyncio.run(read_notes(url, hub.token_for("alice")))
    assert names == ["list_files", "read_file", "read_notebook", "sql"]
    assert text == "notes.md, lines 1-1 of 1\n     1\tThe flux capacitor needs 1.21 gigawatts."
    headers = {"Accept": "application/json, text/event-stream"}
    bobs = hub.request("bob", "/user/alice/oui/mcp", "POST", INITIALIZE, headers=headers)
    # a valid hub token without access to her server: the hub's OAuth names nobody
    assert bobs.status == 401, bobs.text
    nobody = hub.request(None, "/user/alice/oui/mcp", "POST", INITIALIZE, headers=headers)
    assert nobody.status == 401, nobody.text
    assert nobody.json()["error"]["message"].startswith("Authentication required")
