"""``{base_url}oui/mcp``: the MCP server (Streamable HTTP) of the workspace's built-in tools.

Authenticated as every oui route: a Jupyter token (``Authorization: token ...`` or
``Bearer ...``), or the login cookie with the XSRF header; under JupyterHub (a team client
too), the hub's OAuth (its tokens and cookie), as for any route of a user's server. A caller
with no valid credentials gets 401 with a JSON-RPC error (the status MCP clients read as
"authenticate"); one Jupyter's authorizer refuses, 403. The request then goes to the SDK's
transport (``oui_jupyter.mcp.asgi``) with the caller in its scope.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from oui_jupyter.errors import NotFound, OuiError
from oui_jupyter.handlers.base import OuiHandler, status_for
from oui_jupyter.mcp.asgi import serve_asgi
from oui_jupyter.services.users import UserInfo, identity_from_jupyter
from oui_jupyter.team.client.forward import ClientHandler

if TYPE_CHECKING:
    from oui_jupyter.mcp.service import McpService

#: the JSON-RPC error of a refused request (no id: it was never read)
UNAUTHENTICATED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {
        "code": -32001,
        "message": "Authentication required: send a Jupyter token as 'Authorization: token ...'",
    },
}
NOT_ALLOWED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": -32000, "message": "Method not allowed"},
}


class McpRoute(APIHandler):
    """The verbs, the bridge and the refusals; subclasses say who calls (``caller``)."""

    _closed: asyncio.Event | None = None

    async def caller(self) -> tuple[UserInfo, McpService | None]:
        raise NotImplementedError

    def on_connection_close(self) -> None:
        if self._closed is not None:
            self._closed.set()
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        user, mcp = await self.caller()
        if mcp is None or not mcp.serve:
            raise NotFound("the MCP server is off (OuiJupyter.mcp_server_enabled)")
        endpoint = await mcp.endpoint()
        self._closed = asyncio.Event()
        await serve_asgi(self, endpoint.handle, self._closed, {"oui.user": user})

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self._post_only()

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        self._post_only()

    def _post_only(self) -> None:
        """Stateless: no event stream to open (GET) and no session to end (DELETE), as
        the transport allows (405); the SDK's own GET stream would stay open for nothing."""
        self._answer(405, NOT_ALLOWED, Allow="POST")

    def _answer(self, status: int, body: Any, **headers: str) -> None:
        self.clear()
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name.replace("_", "-"), value)
        self.finish(msgspec.json.encode(body))

    def _handle_request_exception(self, e: BaseException) -> None:
        if self._finished or self._headers_written:
            super()._handle_request_exception(e)
            return
        refused = isinstance(e, web.HTTPError) and e.status_code == 403
        if refused and getattr(self, "_jupyter_current_user", "unknown") is None:
            self.log.warning(
                "oui %s %s -> 401: no credentials", self.request.method, self.request.path
            )
            self._answer(401, UNAUTHENTICATED, WWW_Authenticate='Bearer realm="jupyter"')
        elif isinstance(e, OuiError):
            self.log.warning(
                "oui %s %s -> %d: %s",
                self.request.method,
                self.request.path,
                status_for(e),
                e.message,
            )
            self._answer(status_for(e), {"message": e.message, "reason": e.reason})
        else:
            super()._handle_request_exception(e)


class McpHandler(McpRoute, OuiHandler):
    """A lone server (or a plain JupyterHub user server): the services' registry."""

    async def caller(self) -> tuple[UserInfo, McpService | None]:
        return self.user, self.services.mcp


class ClientMcpHandler(McpRoute, ClientHandler):
    """A team client server: its own registry of the built-ins over its root and its
    workspace index (chats, models and the MCP servers' tools live in the team service);
    the caller is who the hub says, an admin when the hub or ``hub_admins`` says so."""

    async def caller(self) -> tuple[UserInfo, McpService | None]:
        runtime = self.client
        retrieval = await runtime.ready()
        runtime.activate()
        identity = identity_from_jupyter(self.current_user)
        admin = bool(identity.hub_admin) or identity.username in runtime.hub_admins
        user = UserInfo(
            id=identity.username,
            name=identity.name or identity.username,
            display_name=identity.display_name or identity.username,
            role="admin" if admin else "user",
            groups=identity.groups,
        )
        return user, runtime.mcp_service(retrieval)
