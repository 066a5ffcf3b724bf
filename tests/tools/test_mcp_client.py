"""The MCP client's parts without a Jupyter server: the configuration, tool names, results,
which tools ``oui/mcp`` offers, and connections that fail, hang or drop (the SDK's own
``MCPServer`` over stdio)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from support.polling import eventually

from oui_jupyter.errors import NotReady
from oui_jupyter.mcp.config import parse_server, parse_servers, tool_name
from oui_jupyter.mcp.exposure import exposed
from oui_jupyter.mcp.results import to_tool_result
from oui_jupyter.mcp.service import McpService
from oui_jupyter.tools.base import NAME_PATTERN, ToolContext, ToolError, ToolLimits
from oui_jupyter.tools.builtin import builtin_tools
from oui_jupyter.tools.policy import policy_of
from oui_jupyter.tools.registry import Registered, ToolRegistry

from .conftest import ALICE

ECHO = str(Path(__file__).parent.parent / "support" / "mcp_echo.py")


# ----- configuration ------------------------------------------------------------------------


def test_server_entries():
    http = parse_server(
        "docs", {"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer k"}}
    )
    assert (http.transport, http.headers, http.requires_approval) == (
        "http",
        {"Authorization": "Bearer k"},
        True,
    )
    assert http.describe() == "https://x.example/mcp"  # never the headers
    local = parse_server(
        "fs", {"command": "mcp-fs", "env": {"K": "v"}, "requires_approval": False, "timeout": 5}
    )
    assert (local.transport, local.command, local.env, local.timeout) == (
        "stdio",
        ("mcp-fs",),
        {"K": "v"},
        5.0,
    )
    assert local.describe() == "mcp-fs"


@pytest.mark.parametrize(
    ("name", "entry", "error"),
    [
        ("a b", {"url": "http://x/mcp"}, "server name"),
        ("x" * 33, {"url": "http://x/mcp"}, "server name"),
        ("s", {"url": "http://x/mcp", "command": ["y"]}, "exactly one"),
        ("s", {}, "exactly one"),
        ("s", {"url": "ftp://x"}, "http"),
        ("s", {"command": []}, "non-empty list"),
        ("s", {"command": ["ok", 3]}, "non-empty list"),
        ("s", {"url": "http://x/mcp", "headers": {"A": 1}}, "object of strings"),
        ("s", {"url": "http://x/mcp", "timeout": 0}, "positive"),
        ("s", {"url": "http://x/mcp", "requires_approval": "no"}, "true or false"),
        ("s", {"url": "http://x/mcp", "extra": 1}, "unknown keys"),
        ("s", "http://x/mcp", "must be an object"),
    ],
)
def test_bad_entries_are_refused(name: str, entry: Any, error: str):
    with pytest.raises(ValueError, match=error):
        parse_server(name, entry)


def test_bad_entries_are_left_out_and_logged(caplog):
    servers = parse_servers({"good": {"url": "http://x/mcp"}, "bad": {"url": 3}})
    assert [s.name for s in servers] == ["good"]
    assert "MCP server 'bad' left out" in caplog.text


def test_tool_names_are_prefixed_valid_and_unique():
    assert tool_name("docs", "search") == "mcp__docs__search"
    assert tool_name("docs", "files.read/v2") == "mcp__docs__files_read_v2"
    long_a, long_b = tool_name("docs", "a" * 80), tool_name("docs", "a" * 79 + "b")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b
    assert all(NAME_PATTERN.match(n) for n in (long_a, long_b, tool_name("x", "")))


# ----- results ------------------------------------------------------------------------------


def result(*content: Any, **fields: Any) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), **fields)


def test_results_become_text_and_binary_is_named():
    png = base64.b64encode(b"x" * 30).decode()
    res = to_tool_result(
        result(
            types.TextContent(text="hello"),
            types.ImageContent(data=png, mime_type="image/png"),
            types.AudioContent(data=png, mime_type="audio/wav"),
            types.ResourceLink(uri="file:///a.txt", name="a.txt", mime_type="text/plain"),
            types.EmbeddedResource(
                resource=types.TextResourceContents(uri="file:///b.md", text="# B")
            ),
            types.EmbeddedResource(
                resource=types.BlobResourceContents(uri="file:///c.bin", blob=png)
            ),
            structured_content={"n": 1},
        ),
        server="s",
        tool="t",
        max_chars=1000,
    )
    assert res.content.split("\n") == [
        "hello",
        "[image: image/png, 30 bytes]",
        "[audio: audio/wav, 30 bytes]",
        "[resource link: file:///a.txt (a.txt, text/plain)]",
        "[resource file:///b.md]",
        "# B",
        "[resource file:///c.bin: application/octet-stream, 30 bytes]",
    ]
    assert res.data == {
        "server": "s",
        "tool": "t",
        "content_types": ["text", "image", "audio", "resource_link", "resource", "resource"],
        "structured_content": {"n": 1},
        "truncated": False,
    }


def test_errors_long_results_and_structured_only():
    with pytest.raises(ToolError, match="no such city"):
        to_tool_result(
            result(types.TextContent(text="no such city"), is_error=True),
            server="s",
            tool="t",
            max_chars=100,
        )
    long = to_tool_result(
        result(types.TextContent(text="x" * 500), structured_content={"v": "y" * 500}),
        server="s",
        tool="t",
        max_chars=100,
    )
    assert long.content.endswith("[cut at 100 characters]") and long.data["truncated"]
    assert long.data["structured_content"] is None
    only = to_tool_result(result(structured_content={"n": 2}), server="s", tool="t", max_chars=100)
    assert only.content == '{"n": 2}'


# ----- what oui/mcp offers ------------------------------------------------------------------


class Asks:
    name = "danger"
    description = "Writes."
    parameters: dict[str, Any] = {"type": "object"}  # noqa: RUF012
    requires_approval = True

    async def run(self, args: dict[str, Any], context: ToolContext) -> Any:
        raise AssertionError("never run")


def test_policy_decides_what_is_offered():
    read = Registered(builtin_tools(None, ToolLimits())[0], "builtin", None)
    asks = Registered(Asks(), "builtin", None)
    other = Registered(Asks(), "mcp", None)
    assert policy_of({}, asks) == "ask"
    assert policy_of({}, read) == "auto"
    assert policy_of({read.id: "bogus"}, read) == "auto"
    assert exposed(read, {}) and not exposed(read, {read.id: "deny"})
    assert not exposed(asks, {}) and not exposed(asks, {"danger": "ask"})
    assert exposed(asks, {"danger": "auto"})
    assert not exposed(other, {"danger": "auto"})  # only built-ins


# ----- connections --------------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


async def test_servers_that_fail_or_hang_leave_no_tools(tmp_path, silent_port):
    registry = ToolRegistry([], entry_points=False)
    mcp = McpService(
        registry,
        parse_servers(
            {
                "missing": {"command": [str(tmp_path / "no-such-command")]},
                "silent": {"url": f"http://127.0.0.1:{silent_port}/mcp"},
                "crashes": {"command": [sys.executable, "-c", "import sys; sys.exit(3)"]},
            }
        ),
        root_dir=str(tmp_path),
        connect_timeout=1.0,
        log_dir=str(tmp_path / "logs"),
    )
    await registry.ready()  # bounded by the connect timeout, and never raises
    assert registry.available(ALICE) == []
    status = {s["name"]: s for s in mcp.status()}
    assert {s["state"] for s in status.values()} == {"down"}
    assert "no answer within 1 s" in status["silent"]["error"]
    assert status["missing"]["error"]
    await mcp.aclose()


async def test_a_server_that_drops_loses_its_tools_then_comes_back(tmp_path):
    pid_file = tmp_path / "pid"
    registry = ToolRegistry([], entry_points=False)
    mcp = McpService(
        registry,
        parse_servers(
            {
                "local": {
                    "command": [sys.executable, ECHO, "stdio"],
                    "env": {"MCP_ECHO_PID_FILE": str(pid_file)},
                }
            }
        ),
        root_dir=str(tmp_path),
        retry_interval=0.0,
        log_dir=str(tmp_path / "logs"),
    )
    ctx = ToolContext(user=ALICE, root_dir=str(tmp_path))
    assert (await registry.run("mcp__local__add", {"a": 1, "b": 2}, ctx)).content == "3"
    first = int(pid_file.read_text())
    os.kill(first, signal.SIGKILL)
    with pytest.raises(ToolError, match="MCP server local is gone"):
        await registry.run("mcp__local__add", {"a": 1, "b": 2}, ctx)
    assert registry.available(ALICE) == []  # its tools left the registry
    assert mcp.status()[0]["state"] == "down"

    async def back() -> bool:
        await registry.ready()  # retries in the background
        return [e.id for e in registry.available(ALICE)][:1] == ["mcp__local__add"]

    assert await eventually(back)
    assert (await registry.run("mcp__local__add", {"a": 2, "b": 2}, ctx)).content == "4"
    assert int(pid_file.read_text()) != first  # a new process
    await mcp.aclose()


async def test_without_the_sdk_the_tools_are_missing_not_an_error(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "oui_jupyter.mcp.client", None)  # import fails
    monkeypatch.setitem(sys.modules, "oui_jupyter.mcp.server", None)
    registry = ToolRegistry(builtin_tools(None, ToolLimits()), entry_points=False)
    mcp = McpService(
        registry, parse_servers({"s": {"url": "http://127.0.0.1:9/mcp"}}), root_dir=str(tmp_path)
    )
    await registry.ready()
    assert [e.source for e in registry.available(ALICE)] == ["builtin"] * 4
    assert "the mcp SDK is missing" in caplog.text
    with pytest.raises(NotReady, match="needs the mcp package"):
        await mcp.endpoint()


async def test_a_failing_source_is_logged_not_raised(caplog):
    registry = ToolRegistry([], entry_points=False)

    async def broken() -> None:
        raise RuntimeError("boom")

    registry.add_source(broken)
    await registry.ready()
    assert "a tool source failed" in caplog.text
