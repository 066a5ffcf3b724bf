"""``McpService``: MCP both ways, as the composition root builds it (no SDK import here).

The client side joins the registry as an async source when servers are configured; the
SDK is imported when the registry first looks (the first tool list or call), never at
start. The server side (``oui/mcp``) is built by its first request.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import NotReady

from .config import ServerConfig

if TYPE_CHECKING:
    from oui_jupyter.tools.registry import ToolRegistry

    from .client import McpClients
    from .server import McpEndpoint

log = logging.getLogger(__name__)


class McpService:
    def __init__(
        self,
        registry: ToolRegistry,
        servers: list[ServerConfig],
        *,
        root_dir: str,
        policy: Mapping[str, str] | None = None,
        serve: bool = True,
        connect_timeout: float = 10.0,
        call_timeout: float = 60.0,
        retry_interval: float = 60.0,
        max_output_chars: int = 20_000,
        log_dir: str | None = None,
    ) -> None:
        self.registry = registry
        self.servers = servers
        self.root_dir = root_dir
        self.policy = dict(policy or {})
        self.serve = serve
        self._client_options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "call_timeout": call_timeout,
            "retry_interval": retry_interval,
            "max_output_chars": max_output_chars,
            "log_dir": log_dir,
        }
        self.clients: McpClients | None = None
        self._endpoint: McpEndpoint | None = None
        self._closed = False
        if servers:
            registry.add_source(self._load)

    async def _load(self) -> None:
        if self._closed:
            return
        if self.clients is None:
            try:  # in a thread: the SDK takes a second or more to import
                module = await asyncio.to_thread(importlib.import_module, f"{__package__}.client")
            except ImportError as exc:  # the SDK is missing: no MCP tools, said once
                log.error("oui: MCP servers configured but the mcp SDK is missing (%s)", exc)
                self._closed = True
                return
            if self.clients is None:  # a concurrent first look may have made them
                self.clients = module.McpClients(
                    self.registry, self.servers, **self._client_options
                )
        await self.clients.load()

    def status(self) -> list[dict[str, Any]]:
        """Each configured server: its state, error and tools (``[]`` before first use)."""
        if self.clients is None:
            return [
                {
                    "name": s.name,
                    "transport": s.transport,
                    "state": "new",
                    "error": None,
                    "tools": [],
                }
                for s in self.servers
            ]
        return self.clients.status()

    async def endpoint(self) -> McpEndpoint:
        """The ``oui/mcp`` server, built on its first request (the SDK imported in a thread)."""
        if self._endpoint is None:
            try:
                module = await asyncio.to_thread(importlib.import_module, f"{__package__}.server")
            except ImportError as exc:
                raise NotReady(f"the MCP server needs the mcp package ({exc})") from None
            if self._endpoint is None:
                self._endpoint = module.McpEndpoint(
                    self.registry, root_dir=self.root_dir, policy=self.policy
                )
        return self._endpoint

    async def aclose(self) -> None:
        """Stop the connections (and stdio servers' processes) and the endpoint, waiting."""
        self._closed = True
        work = []
        if self.clients is not None:
            work.append(self.clients.aclose())
        if self._endpoint is not None:
            work.append(self._endpoint.aclose())
        await asyncio.gather(*work, return_exceptions=True)

    def close(self) -> None:
        """For a caller off the loop or that cannot wait: asks everything to stop."""
        self._closed = True
        if self.clients is not None:
            self.clients.close()
        if self._endpoint is not None:
            self._endpoint.close()
