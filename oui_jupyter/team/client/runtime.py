"""What a team client server holds: the team upstream, the local workspace index (built in
a thread after start, as single-user mode's services) and the local events sockets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from oui_jupyter.team.client.upstream import TeamSettings, TeamUpstream

if TYPE_CHECKING:
    from oui_jupyter.mcp.service import McpService
    from oui_jupyter.services.retrieval.service import RetrievalService
    from oui_jupyter.tools.registry import ToolRegistry

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


class LocalSocket(Protocol):
    def send_local(self, frame: str) -> None: ...


class ClientRuntime:
    """``warm_up``/``ready``/``close`` as ``oui_jupyter.runtime.Runtime``; ``ready`` answers
    the workspace index (None when ``index_workspace`` is off)."""

    def __init__(
        self,
        settings: TeamSettings,
        build_retrieval: Callable[[ClientRuntime], RetrievalService | None],
        *,
        max_body_size: int,
        max_upload_size: int,
        rag_top_k: int,
        rag_budget_chars: int,
        build_tools: Callable[[RetrievalService | None], ToolRegistry] | None = None,
    ) -> None:
        """``build_tools``: this server's tool registry (its workspace tools, which it runs
        itself for the turns it forwards), built after the index."""
        self.settings = settings
        self.upstream = TeamUpstream(settings)
        self.max_body_size = max_body_size
        self.max_upload_size = max_upload_size
        self.rag_top_k = rag_top_k
        self.rag_budget_chars = rag_budget_chars
        self._build = build_retrieval
        self._future: asyncio.Future[RetrievalService | None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oui-client-init")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._built = False
        self.retrieval: RetrievalService | None = None
        self._build_tools = build_tools
        self.tools: ToolRegistry | None = None
        self.sockets: set[LocalSocket] = set()
        #: ``oui/mcp`` here: the built-ins over this server's root (``wiring`` sets these)
        self.hub_admins: set[str] = set()
        self.mcp_factory: Callable[[RetrievalService | None], McpService] | None = None
        self.mcp: McpService | None = None
        #: the tool channels being served (``tool_channel.ChannelServer``), kept from the GC
        self.channel_tasks: set[asyncio.Task[None]] = set()

    def warm_up(self) -> asyncio.Future[RetrievalService | None]:
        if self._future is None:
            loop = asyncio.get_running_loop()
            self._loop = loop
            self._future = asyncio.ensure_future(
                loop.run_in_executor(self._executor, self._build_and_keep)
            )
        return self._future

    def _build_and_keep(self) -> RetrievalService | None:
        self.retrieval = self._build(self)
        self._built = True
        return self.retrieval

    async def ready(self) -> RetrievalService | None:
        if self._built:
            return self.retrieval
        return await asyncio.shield(self.warm_up())

    def mcp_service(self, retrieval: RetrievalService | None) -> McpService | None:
        """The MCP service of ``oui/mcp``, built on its first request."""
        if self.mcp is None and self.mcp_factory is not None:
            self.mcp = self.mcp_factory(retrieval)
        return self.mcp

    async def local_tools(self) -> ToolRegistry | None:
        """This server's tool registry, built on first need (in the init thread)."""
        retrieval = await self.ready()
        if self.tools is None and self._build_tools is not None:
            build = self._build_tools
            loop = asyncio.get_running_loop()
            tools = await loop.run_in_executor(self._executor, build, retrieval)
            if self.tools is None:
                self.tools = tools
        return self.tools

    def activate(self) -> None:
        """The first use of oui here opens the workspace index (as single-user mode)."""
        if self.retrieval is not None:
            self.retrieval.start()

    # ----- local events: the workspace index's progress -----
    def index_progress(self, data: dict[str, Any]) -> None:
        """``index:progress`` to every local socket; safe from the indexer's threads."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        frame = _encode({"type": "index:progress", "data": data}).decode()
        loop.call_soon_threadsafe(self._broadcast, frame)

    def _broadcast(self, frame: str) -> None:
        for socket in list(self.sockets):
            socket.send_local(frame)

    def close(self) -> None:
        if self.mcp is not None:
            self.mcp.close()
        for task in list(self.channel_tasks):
            task.cancel()
        self.upstream.close()
        if self.retrieval is not None:
            try:
                self.retrieval.stop()
            except Exception:
                log.exception("oui: error while closing the workspace index")
        self._executor.shutdown(wait=False)
