"""Connections to the admin's MCP servers, and their tools as registry tools.

One ``Connection`` per server. Its SDK ``Client`` lives in a task of its own (the SDK's
transports are anyio task groups: entered and left in one task), which connects, lists the
tools, then waits until it is told to stop; calls from other tasks go through the connected
client. A server that cannot be reached, or whose connection drops, is logged and its tools
leave the registry; the next look at the registry after ``retry_interval`` tries it again in
the background. Stopping a stdio connection stops its process (the SDK closes its stdin,
then terminates it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TextIO

import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from oui_jupyter._version import __version__
from oui_jupyter.tools.base import ToolContext, ToolError, ToolResult, ToolTimeout
from oui_jupyter.tools.schema import check_schema

from .config import ServerConfig, tool_name
from .results import to_tool_result

if TYPE_CHECKING:
    from oui_jupyter.tools.registry import ToolRegistry

log = logging.getLogger(__name__)

#: pages of ``tools/list`` read from one server, at most
MAX_PAGES = 20
#: the longest description kept of a server's tool
MAX_DESCRIPTION = 4000
#: seconds a connection gets to end (a stdio server: the SDK's own stdin, SIGTERM, SIGKILL)
STOP_TIMEOUT = 8.0


class McpTool:
    """A tool of an MCP server, as the registry sees it (``Tool`` protocol)."""

    def __init__(self, connection: Connection, spec: types.Tool) -> None:
        self.connection = connection
        self.remote_name = spec.name
        self.name = tool_name(connection.config.name, spec.name)
        about = (spec.description or spec.title or spec.name).strip()
        self.description = f"[MCP server {connection.config.name}] {about}"[:MAX_DESCRIPTION]
        self.parameters: dict[str, Any] = dict(spec.input_schema)
        self.requires_approval = connection.config.requires_approval
        self.access_control = connection.config.access_control

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        return await self.connection.call(self.remote_name, args)


class Connection:
    def __init__(
        self,
        config: ServerConfig,
        *,
        connect_timeout: float,
        call_timeout: float,
        max_output_chars: int,
        log_dir: str | None,
    ) -> None:
        self.config = config
        self.connect_timeout = connect_timeout
        self.call_timeout = config.timeout or call_timeout
        self.max_output_chars = max_output_chars
        self.log_dir = log_dir
        self.state = "new"  # new | connecting | up | down | closed
        self.error: str | None = None
        self.last_attempt = 0.0
        self.tool_names: list[str] = []
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self.on_down: Any = None  # called with this connection when it drops

    # -- the connection's own task -----------------------------------------------------
    async def connect(self) -> list[types.Tool]:
        """Connect and list the server's tools (``Exception`` when it cannot)."""
        self.state = "connecting"
        self.last_attempt = time.monotonic()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[list[types.Tool]] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._hold(ready), name=f"oui-mcp-{self.config.name}")
        self._task.add_done_callback(self._ended)
        try:
            tools = await asyncio.wait_for(asyncio.shield(ready), self.connect_timeout)
        except BaseException as exc:
            self.error = _reason(exc, self.connect_timeout)
            await self.stop()
            self.state = "down"
            raise
        self.state, self.error = "up", None
        return tools

    async def _hold(self, ready: asyncio.Future[list[types.Tool]]) -> None:
        client: Client | None = None
        stop = self._stop
        assert stop is not None
        try:
            async with AsyncExitStack() as stack:
                client = Client(
                    await self._transport(stack),
                    read_timeout_seconds=self.connect_timeout,
                    client_info=types.Implementation(name="oui-jupyter", version=__version__),
                    cache=None,
                )
                await stack.enter_async_context(client)
                tools = await self._list(client)
                self._client = client
                if not ready.done():
                    ready.set_result(tools)
                await stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        except BaseException as exc:  # the SDK's task groups raise ExceptionGroups
            if not ready.done():
                ready.set_exception(_unwrap(exc))
            else:
                log.warning("oui: MCP server %s dropped: %s", self.config.name, _unwrap(exc))
        finally:
            if client is not None and self._client is client:  # not a newer connection's
                self._client = None

    async def _transport(self, stack: AsyncExitStack) -> Any:
        cfg = self.config
        if cfg.url:
            http = await stack.enter_async_context(create_mcp_http_client(headers=cfg.headers))
            return streamable_http_client(cfg.url, http_client=http)
        params = StdioServerParameters(
            command=cfg.command[0], args=list(cfg.command[1:]), env=cfg.env or None, cwd=cfg.cwd
        )
        return stdio_client(params, errlog=stack.enter_context(self._errlog()))

    def _errlog(self) -> TextIO:
        """Where a stdio server's stderr goes: ``<data_dir>/mcp/<name>.log``."""
        if self.log_dir is None:
            return open(os.devnull, "w")
        os.makedirs(self.log_dir, exist_ok=True)
        path = os.path.join(self.log_dir, f"{self.config.name}.log")
        return open(path, "a", encoding="utf-8")

    @staticmethod
    async def _list(client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task is self._task and self.state == "up":  # not stopped by us: it went away
            self.broken("the connection ended")

    def broken(self, reason: str) -> None:
        """The server went away: its tools leave the registry, the connection ends, and
        the next look at the registry after ``retry_interval`` connects again."""
        if self.state != "up":
            return
        self.state, self.error = "down", reason
        self.last_attempt = time.monotonic()
        log.warning(
            "oui: MCP server %s is gone (%s); its tools are left out", self.config.name, reason
        )
        if self._stop is not None:
            self._stop.set()  # the task unwinds the transport (a stdio process is reaped)
        if self.on_down is not None:
            self.on_down(self)

    async def stop(self) -> None:
        """End the connection (and a stdio server's process); waits for it, bounded."""
        task, self._task = self._task, None
        if self.state == "up":
            self.state = "closed"
        if self._stop is not None:
            self._stop.set()
        if task is None or task.done():
            return
        if self._client is None:  # still connecting: nothing to close gently
            task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except BaseException:
            task.cancel()

    def stop_soon(self) -> None:
        """``stop`` for a caller that cannot wait (the server is shutting down)."""
        if self.state == "up":
            self.state = "closed"
        if self._stop is not None:
            self._stop.set()

    # -- calls -------------------------------------------------------------------------
    async def call(self, tool: str, args: dict[str, Any]) -> ToolResult:
        client, name = self._client, self.config.name
        if client is None or self.state != "up":
            raise ToolError(f"MCP server {name} is not connected")
        try:
            result = await asyncio.wait_for(
                client.call_tool(tool, args, read_timeout_seconds=self.call_timeout),
                self.call_timeout + 1.0,
            )
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                self.broken("the connection closed")
                raise ToolError(
                    f"{tool}: MCP server {name} is gone (the connection closed)"
                ) from None
            if _is_timeout(exc):
                raise ToolTimeout(
                    f"{tool}: MCP server {name} did not answer within {self.call_timeout:g} s"
                ) from None
            raise ToolError(f"{tool}: MCP server {name} answered an error: {exc.message}") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise ToolTimeout(
                f"{tool}: MCP server {name} did not answer within {self.call_timeout:g} s"
            ) from None
        except Exception as exc:
            log.warning("oui: call of %s on MCP server %s failed: %r", tool, name, exc)
            self.broken(str(_unwrap(exc)))
            raise ToolError(f"{tool}: MCP server {name} failed: {_unwrap(exc)}") from None
        return to_tool_result(result, server=name, tool=tool, max_chars=self.max_output_chars)


class McpClients:
    """The admin's servers: connected on the registry's first ``ready`` (never at start)."""

    def __init__(
        self,
        registry: ToolRegistry,
        servers: list[ServerConfig],
        *,
        connect_timeout: float = 10.0,
        call_timeout: float = 60.0,
        retry_interval: float = 60.0,
        max_output_chars: int = 20_000,
        log_dir: str | None = None,
    ) -> None:
        self.connections = [
            Connection(
                s,
                connect_timeout=connect_timeout,
                call_timeout=call_timeout,
                max_output_chars=max_output_chars,
                log_dir=log_dir,
            )
            for s in servers
        ]
        self.retry_interval = retry_interval
        self._registry = registry
        self._first: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()
        self._closed = False
        for c in self.connections:
            c.on_down = self._forget

    async def load(self) -> None:
        """Connect the servers not tried yet (waits, bounded by the connect timeout) and
        retry, in the background, those that were down for ``retry_interval``."""
        if self._closed or not self.connections:
            return
        if self._first is None:
            self._first = asyncio.ensure_future(self._connect_all(self.connections))
        await asyncio.shield(self._first)
        now = time.monotonic()
        for c in self.connections:
            if c.state == "down" and now - c.last_attempt >= self.retry_interval:
                c.state = "connecting"
                task = asyncio.ensure_future(self._connect_all([c]))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)

    async def _connect_all(self, connections: list[Connection]) -> None:
        await asyncio.gather(*(self._connect(c) for c in connections))

    async def _connect(self, c: Connection) -> None:
        try:
            specs = await c.connect()
        except BaseException:
            log.warning(
                "oui: MCP server %s (%s) is not available: %s; its tools are left out",
                c.config.name,
                c.config.describe(),
                c.error,
            )
            return
        if self._closed:
            await c.stop()
            return
        c.tool_names = self._register(c, specs)
        log.info("oui: MCP server %s: %d tools", c.config.name, len(c.tool_names))

    def _register(self, c: Connection, specs: list[types.Tool]) -> list[str]:
        names = []
        for spec in specs:
            tool = McpTool(c, spec)
            try:
                check_schema(tool.parameters)
                self._registry.add(tool, "mcp")
            except ValueError as exc:
                log.warning(
                    "oui: tool %r of MCP server %s left out: %s", spec.name, c.config.name, exc
                )
                continue
            names.append(tool.name)
        return names

    def _forget(self, c: Connection) -> None:
        for name in c.tool_names:
            self._registry.remove(name)
        c.tool_names = []

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "name": c.config.name,
                "transport": c.config.transport,
                "state": c.state,
                "error": c.error,
                "tools": list(c.tool_names),
            }
            for c in self.connections
        ]

    async def aclose(self) -> None:
        """Stop every connection (stdio processes included), waiting for them."""
        self._closed = True
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*(c.stop() for c in self.connections), return_exceptions=True)

    def close(self) -> None:
        self._closed = True
        for c in self.connections:
            c.stop_soon()


def _unwrap(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's exception groups."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and inner:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _is_timeout(exc: MCPError) -> bool:
    return exc.code == types.REQUEST_TIMEOUT or "timed out" in exc.message.lower()


def _reason(exc: BaseException, timeout: float) -> str:
    exc = _unwrap(exc)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return f"{type(exc).__name__}: {exc}"
