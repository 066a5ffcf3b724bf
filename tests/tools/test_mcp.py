"""MCP both ways on a real server: the admin's MCP servers (the SDK's own ``MCPServer``, over
Streamable HTTP and stdio) whose tools join the registry, and ``oui/mcp`` called by the SDK's
own client, with and without credentials."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from support.polling import eventually, wait_indexed
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from oui_jupyter.tools.base import ToolContext, ToolError, ToolResult

from .conftest import ALICE

ECHO = str(Path(__file__).parent.parent / "support" / "mcp_echo.py")
BUILTINS = ["list_files", "read_file", "read_notebook", "sql", "workspace_search"]
#: what oui/mcp offers: every built-in that runs without asking (edit_notebook and
#: run_cells wait for approval)
EXPOSED = sorted([*BUILTINS, "describe_variable", "kernel_variables", "remember"])
ECHO_TOOLS = ["add", "broken", "getenv", "header", "picture", "shout_loud"]
INITIALIZE = (
    b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": '
    b'"2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    """The echo server over Streamable HTTP, in its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, ECHO, "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the echo MCP server did not start") from None
                import time

                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def pid_file(tmp_path: Path) -> Path:
    return tmp_path / "stdio-echo.pid"


@pytest.fixture
def oui_extra_config(jp_root_dir: Path, echo_port: int, pid_file: Path) -> dict[str, Any]:
    return mcp_config(jp_root_dir, echo_port, pid_file)


def mcp_config(jp_root_dir: Path, echo_port: int, pid_file: Path) -> dict[str, Any]:
    """The workspace's files and the MCP servers: ``echo`` (HTTP, alice's only, asks first),
    ``local`` (stdio, runs without asking), and two that cannot be used."""
    (jp_root_dir / "penguins.md").write_text(
        "# Emperor penguins\n\nEmperor penguins dive deeper than any other bird.\n"
    )
    (jp_root_dir / "sales.csv").write_text("region,amount\nnorth,1\nnorth,2\nsouth,3\n")
    return {
        "index_start_delay": 0.0,
        "index_poll_interval": 0.3,
        "embedding_engine": "openai",  # keyword search only: no embedding model is loaded
        "embedding_base_url": "http://127.0.0.1:9/v1",
        "tool_access_control": {"sql": {"read": {"user_ids": ["alice"]}}},
        "mcp_servers": {
            "echo": {
                "url": f"http://127.0.0.1:{echo_port}/mcp",
                "headers": {"X-Echo-Key": "sesame"},
                "access_control": {"read": {"user_ids": ["alice"]}},
            },
            "local": {
                "command": [sys.executable, ECHO, "stdio"],
                "env": {"MCP_ECHO_PID_FILE": str(pid_file), "ECHO_SECRET": "s3"},
                "requires_approval": False,
            },
            "down": {"url": "http://127.0.0.1:9/mcp"},
            "bad name!": {"url": "http://127.0.0.1:9/mcp"},
        },
        "mcp_connect_timeout": 20.0,
    }


async def services_of(jp_serverapp: Any) -> Any:
    return await jp_serverapp.web_app.settings["oui_runtime"].ready()


# ----- the client: the admin's servers' tools in the registry -------------------------------


async def test_configured_servers_tools_are_listed(api, jp_serverapp):
    r = await api("GET", "v1/tools/")
    assert r.code == 200
    tools = {t["id"]: t for t in r.json()}
    mcp = sorted(name for name in tools if name.startswith("mcp__"))
    assert mcp == sorted(
        [f"mcp__echo__{t}" for t in ECHO_TOOLS] + [f"mcp__local__{t}" for t in ECHO_TOOLS]
    )
    assert set(BUILTINS) <= set(tools)
    add = tools["mcp__echo__add"]
    assert add["source"] == "mcp" and add["requires_approval"] is True
    assert add["meta"]["description"] == "[MCP server echo] Add two integers."
    assert add["spec"]["parameters"]["required"] == ["a", "b"]
    assert tools["mcp__local__add"]["requires_approval"] is False
    status = {s["name"]: s for s in (await services_of(jp_serverapp)).mcp.status()}
    assert status["down"]["state"] == "down" and status["down"]["tools"] == []
    assert "bad name!" not in status  # left out, logged
    # the server's access_control: echo's tools are alice's only
    bobs = {t["id"] for t in (await api("GET", "v1/tools/", user="bob")).json()}
    assert not any(n.startswith("mcp__echo__") for n in bobs)
    assert "mcp__local__add" in bobs


async def test_tools_of_both_transports_run_through_the_registry(jp_serverapp, jp_root_dir):
    tools = (await services_of(jp_serverapp)).tools
    ctx = ToolContext(user=ALICE, root_dir=str(jp_root_dir))
    over_http = await tools.run("mcp__echo__add", '{"a": 2, "b": 3}', ctx)
    over_stdio = await tools.run("mcp__local__add", {"a": 40, "b": 2}, ctx)
    assert isinstance(over_http, ToolResult)
    assert (over_http.content, over_stdio.content) == ("5", "42")
    assert over_http.data["structured_content"] == {"result": 5}
    header = await tools.run("mcp__echo__header", {"name": "x-echo-key"}, ctx)
    assert header.content == "sesame"  # the configured headers go with each request
    env = await tools.run("mcp__local__getenv", {"name": "ECHO_SECRET"}, ctx)
    assert env.content == "s3"
    shout = await tools.run("mcp__local__shout_loud", {"text": "hi"}, ctx)
    assert shout.content == "HI" and shout.data["tool"] == "shout.loud"
    picture = await tools.run("mcp__echo__picture", {}, ctx)
    assert picture.content == "a black square\n[image: image/png, 24 bytes]"
    with pytest.raises(ToolError, match="Error executing tool broken"):
        await tools.run("mcp__local__broken", {}, ctx)
    with pytest.raises(ToolError, match="invalid arguments"):
        await tools.run("mcp__echo__add", {"a": "two", "b": 3}, ctx)


async def test_stdio_server_stops_with_the_server(api, jp_serverapp, pid_file):
    assert (await api("GET", "v1/tools/")).code == 200  # connects
    pid = int(pid_file.read_text())
    os.kill(pid, 0)  # running
    extension = next(iter(jp_serverapp.extension_manager.extension_apps["oui_jupyter"]))
    await extension.stop_extension()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert await eventually(gone)
    assert (await services_of(jp_serverapp)).mcp.status()[1]["state"] == "closed"


# ----- the server: oui/mcp ------------------------------------------------------------------


@pytest.fixture
def server_url(http_server_client: Any, jp_http_port: int, jp_base_url: str) -> str:
    """The test server's base URL (``http_server_client``: it serves requests)."""
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def mcp_url(server_url: str) -> str:
    return f"{server_url}oui/mcp"


def mcp_client(
    url: str, headers: dict[str, str], mode: str = "auto"
) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return http, Client(streamable_http_client(url, http_client=http), cache=None, mode=mode)


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026's discover; 2025's initialize
async def test_sdk_client_with_a_token(api, mcp_url, mode):
    await wait_indexed(api, files=2)
    http, client = mcp_client(mcp_url, {"Authorization": "token alice-token"}, mode)
    async with http, client:
        assert client.server_info is not None and client.server_info.name == "oui-jupyter"
        modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
        assert modern == (mode == "auto")
        listed = await client.list_tools()
        assert sorted(t.name for t in listed.tools) == EXPOSED  # not the MCP servers' tools
        read = next(t for t in listed.tools if t.name == "read_file")
        assert read.input_schema["required"] == ["path"] and read.annotations.read_only_hint
        remember = next(t for t in listed.tools if t.name == "remember")
        assert remember.annotations.read_only_hint is False  # it writes a memory
        found = await client.call_tool(
            "workspace_search", {"query": "emperor penguins dive", "mode": "keyword"}
        )
        assert not found.is_error
        assert found.content[0].text.startswith('<source id="1" name="penguins.md')
        assert found.structured_content["sources"][0]["path"] == "penguins.md"
        lines = await client.call_tool("read_file", {"path": "penguins.md", "end_line": 1})
        assert lines.content[0].text == "penguins.md, lines 1-1 of 3\n     1\t# Emperor penguins"
        total = await client.call_tool("sql", {"query": "SELECT sum(amount) FROM 'sales.csv'"})
        assert total.structured_content["data"]["rows"] == [[6]]
        many = await asyncio.gather(
            *(
                client.call_tool("read_file", {"path": "penguins.md", "start_line": n})
                for n in (1, 2, 3) * 4
            )
        )
        assert [r.structured_content["data"]["start_line"] for r in many] == [1, 2, 3] * 4
        refused = await client.call_tool("read_file", {"path": "../etc/passwd"})
        assert refused.is_error and "inside the workspace" in refused.content[0].text
        with pytest.raises(MCPError, match="Unknown tool: mcp__echo__add"):
            await client.call_tool("mcp__echo__add", {"a": 1, "b": 2})


async def test_each_caller_gets_their_own_tools(jp_serverapp, mcp_url):
    http, client = mcp_client(mcp_url, {"Authorization": "Bearer bob-token"})
    async with http, client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert "sql" not in names and "read_file" in names  # sql: alice's only
        with pytest.raises(MCPError, match="Unknown tool: sql"):
            await client.call_tool("sql", {"query": "SELECT 1"})


class WritesTool:
    name = "danger"
    description = "Changes things."
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    requires_approval = True
    runs = 0

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        WritesTool.runs += 1
        return ToolResult("done")


async def test_tools_that_ask_are_offered_only_when_the_policy_says_auto(jp_serverapp, mcp_url):
    services = await services_of(jp_serverapp)
    services.tools.add(WritesTool(), "builtin")
    http, client = mcp_client(mcp_url, {"Authorization": "token alice-token"})
    async with http, client:
        assert "danger" not in [t.name for t in (await client.list_tools()).tools]
        with pytest.raises(MCPError, match="Unknown tool: danger"):
            await client.call_tool("danger", {})
        assert WritesTool.runs == 0
        services.mcp.policy["danger"] = "auto"
        assert "danger" in [t.name for t in (await client.list_tools(cache_mode="bypass")).tools]
        assert (await client.call_tool("danger", {})).content[0].text == "done"
        services.mcp.policy["read_file"] = "deny"
        assert "read_file" not in [t.name for t in (await client.list_tools()).tools]


async def post(url: str, headers: dict[str, str], body: bytes = INITIALIZE) -> tuple[int, Any]:
    all_headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        **headers,
    }
    try:
        r = await AsyncHTTPClient().fetch(url, method="POST", headers=all_headers, body=body)
    except HTTPClientError as error:
        assert error.response is not None
        return error.code, error.response
    return r.code, r


async def test_refused_without_credentials(jp_serverapp, mcp_url):
    url = mcp_url
    for headers in ({}, {"Authorization": "token wrong-token"}):
        code, response = await post(url, headers)
        assert code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"Authentication required" in response.body
    http, client = mcp_client(url, {})
    with pytest.raises(Exception) as raised:  # the SDK's client gives up: no session
        async with http, client:
            pass
    assert "Authentication required" in repr(raised.value)  # our 401's JSON-RPC error
    ok, response = await post(url, {"Authorization": "token alice-token"})
    assert ok == 200 and b'"serverInfo"' in response.body


async def test_cookie_needs_the_xsrf_header(jp_serverapp, server_url, mcp_url):
    token = jp_serverapp.identity_provider.token
    page = await AsyncHTTPClient().fetch(
        f"{server_url}oui/api/version",
        headers={"Authorization": f"token {token}"},
    )
    login = next(c for c in page.headers.get_list("Set-Cookie") if c.startswith("username-"))
    cookie = login.split(";", 1)[0]
    url = mcp_url
    code, _ = await post(url, {"Cookie": cookie})
    assert code == 403  # a cookie alone could be a forged cross-site request
    code, _ = await post(
        url,
        {"Cookie": f"{cookie}; _xsrf=x1"},
    )
    assert code == 403
    code, response = await post(url, {"Cookie": f"{cookie}; _xsrf=x1", "X-XSRFToken": "x1"})
    assert code == 200 and b'"serverInfo"' in response.body


async def test_get_and_delete_hold_nothing_open(mcp_url):
    auth = {"Authorization": "token alice-token", "Accept": "text/event-stream, application/json"}
    for method in ("GET", "DELETE"):
        try:
            r = await AsyncHTTPClient().fetch(
                mcp_url,
                method=method,
                headers=auth,
                request_timeout=10,
                allow_nonstandard_methods=True,
            )
            code = r.code
        except HTTPClientError as error:
            code = error.code
            assert error.response is not None and error.response.headers["Allow"] == "POST"
        assert code == 405, method
