"""Tool routes (``oui/api/v1/tools/...``)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.tools import ToolResponse


class ToolsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Every tool you may use: built-ins, installed packages' and MCP servers'",
            response=list[ToolResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.tools.ready()  # entry points loaded, MCP servers heard (bounded)
        self.write_json(await asyncio.to_thread(self.tools.list, self.user))
