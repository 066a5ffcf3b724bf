"""``oui/mcp``: the built-in tools as an MCP server (the SDK's Streamable HTTP transport).

The SDK's ``StreamableHTTPSessionManager`` runs stateless, with JSON answers: every POST is
one JSON-RPC exchange answered in its response, so nothing is kept between requests (no
session to steal, nothing lost when the server restarts, any replica can answer), and no
event stream is held open. Who calls is known before the SDK sees the request: the Tornado
handler authenticates it as every oui route does and puts the caller in the ASGI scope
(``oui.user``), where the tool handlers read it back (``ctx.request.scope``). Tools run
through the registry (argument checks, timeouts) with that user's ``ToolContext``.

The manager's task group lives in a task of its own, started on the first request and
stopped with the server (``aclose``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp import MCPError
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from oui_jupyter._version import __version__
from oui_jupyter.errors import NotFound, OuiError
from oui_jupyter.tools.base import ToolContext, ToolError

from .exposure import exposed

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.tools.registry import Registered, ToolRegistry

    from .asgi import Receive, Send

log = logging.getLogger(__name__)

USER_KEY = "oui.user"
INSTRUCTIONS = (
    "Tools over the files and notebooks of a Jupyter workspace: search it, list and read "
    "files, read notebooks' cells and outputs, query data files with SQL. Paths are relative "
    "to the workspace root."
)


def _user(ctx: Any) -> UserInfo:
    request = getattr(ctx, "request", None)
    user = getattr(request, "scope", {}).get(USER_KEY) if request is not None else None
    if user is None:  # only the oui handler calls the transport, always with a user
        raise MCPError(code=types.INVALID_REQUEST, message="no authenticated caller")
    return user


def mcp_tool(entry: Registered) -> types.Tool:
    tool = entry.tool
    # a tool that writes without asking (``remember``) says so with ``read_only = False``
    read_only = getattr(tool, "read_only", not tool.requires_approval) is True
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=dict(tool.parameters),
        annotations=types.ToolAnnotations(read_only_hint=read_only, open_world_hint=False),
    )


class McpEndpoint:
    def __init__(self, registry: ToolRegistry, *, root_dir: str, policy: Mapping[str, str]) -> None:
        self.registry = registry
        self.root_dir = root_dir
        self.policy = policy
        self.server: Server[Any] = Server(
            "oui-jupyter",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            self.server,
            json_response=True,
            stateless=True,
            # Jupyter checks the Host and Origin of every request before this runs.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._stop = asyncio.Event()

    # -- the tools -----------------------------------------------------------------------
    async def tools_for(self, user: UserInfo) -> list[Registered]:
        entries = await asyncio.to_thread(self.registry.available, user)
        return [e for e in entries if exposed(e, self.policy)]

    async def _list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[mcp_tool(e) for e in await self.tools_for(_user(ctx))])

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        user = _user(ctx)
        if params.name not in {e.id for e in await self.tools_for(user)}:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        context = ToolContext(user=user, root_dir=self.root_dir)
        try:
            result = await self.registry.run(params.name, params.arguments or {}, context)
        except NotFound as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=exc.message) from None
        except (ToolError, OuiError) as exc:  # told to the model, as the loop does
            return types.CallToolResult(
                content=[types.TextContent(text=exc.message)], is_error=True
            )
        return types.CallToolResult(
            content=[types.TextContent(text=result.content)],
            structured_content={"data": result.data, "sources": result.sources},
        )

    # -- the transport -------------------------------------------------------------------
    async def handle(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        await self._start()
        await self.manager.handle_request(scope, receive, send)

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._started), name="oui-mcp-server")
        await asyncio.shield(self._started)

    async def _run(self, started: asyncio.Future[None]) -> None:
        try:
            async with self.manager.run():
                started.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, asyncio.CancelledError):
                log.exception("oui: the MCP server's task ended")
            raise

    async def aclose(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except BaseException:
            task.cancel()

    def close(self) -> None:
        self._stop.set()
