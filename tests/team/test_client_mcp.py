"""``oui/mcp`` on a team client server (in process, the service unreachable): the built-ins
over this server's own files, for the caller the identity provider names (hub admins and
groups as the hub gives them), the MCP servers' tools left to the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from team.client_support import TEAM_TOKEN


@pytest.fixture
def oui_extra_config(monkeypatch: Any, jp_root_dir: Path) -> dict[str, Any]:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TEAM_TOKEN)
    (jp_root_dir / "notes.md").write_text("The warp core runs on dilithium crystals.\n")
    return {
        "team_mode": "client",
        "team_url": "http://127.0.0.1:9/services/oui/",  # the service is down: no matter here
        "index_workspace": False,
        "connect_timeout": 1.0,
        "local_model_enabled": False,
        "tool_access_control": {"sql": {"read": {"group_ids": ["staff"]}}},
        "mcp_servers": {"elsewhere": {"url": "http://127.0.0.1:9/mcp"}},
    }


@pytest.fixture
def mcp_url(http_server_client: Any, jp_http_port: int, jp_base_url: str) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}oui/mcp"


async def tools_of(url: str, token: str) -> list[str]:
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}) as http:
        async with Client(streamable_http_client(url, http_client=http), cache=None) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)


async def test_team_client_serves_its_own_files(mcp_url: str):
    assert await tools_of(mcp_url, "dave-token") == ["list_files", "read_file", "read_notebook"]
    # carol: a hub admin (and in staff): sql too; no workspace_search (no index here) and no
    # tools of mcp_servers (they belong to the service's turns)
    assert await tools_of(mcp_url, "carol-token") == [
        "list_files",
        "read_file",
        "read_notebook",
        "sql",
    ]
    async with httpx2.AsyncClient(headers={"Authorization": "token erin-token"}) as http:
        async with Client(streamable_http_client(mcp_url, http_client=http), cache=None) as client:
            read = await client.call_tool("read_file", {"path": "notes.md"})
            assert read.content[0].text.endswith("1\tThe warp core runs on dilithium crystals.")
            with pytest.raises(MCPError, match="Unknown tool: sql"):
                await client.call_tool("sql", {"query": "SELECT 1"})


async def test_team_client_refuses_strangers(mcp_url: str):
    try:
        await AsyncHTTPClient().fetch(
            mcp_url, method="POST", body=b"{}", headers={"Content-Type": "application/json"}
        )
        raise AssertionError("not refused")
    except HTTPClientError as error:
        assert error.code == 401
        assert error.response is not None and b"Authentication required" in error.response.body
