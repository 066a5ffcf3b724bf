"""``{base_url}oui/mcp``: the MCP server (Streamable HTTP) of the workspace's built-in tools.

Authenticated as every oui route: a Jupyter token (``Authorization: token ...`` or
``Bearer ...``), or the login cookie with the XSRF header; under JupyterHub, the hub's
OAuth (its tokens and cookie), as for any route of a user's server. A caller with no valid
credentials gets 401 with a JSON-RPC error (the status MCP clients read as "authenticate");
one Jupyter's authorizer refuses, 403. The request then goes to the SDK's transport
(``oui_jupyter.mcp.asgi``) with the caller in its scope.
"""

from __future__ import annotations

import asyncio

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import NotFound
from oui_jupyter.handlers.base import OuiHandler
from oui_jupyter.mcp.asgi import serve_asgi

#: the JSON-RPC error of a refused request (no id: it was never read)
UNAUTHENTICATED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {
        "code": -32001,
        "message": "Authentication required: send a Jupyter token as 'Authorization: token ...'",
    },
}


class McpHandler(OuiHandler):
    _closed: asyncio.Event | None = None

    def on_connection_close(self) -> None:
        if self._closed is not None:
            self._closed.set()
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self._serve()

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
        self.set_header("Allow", "POST")
        self.write_json(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32000, "message": "Method not allowed"},
            },
            status=405,
        )

    async def _serve(self) -> None:
        mcp = self.services.mcp
        if mcp is None or not mcp.serve:
            raise NotFound("the MCP server is off (OuiJupyter.mcp_server_enabled)")
        endpoint = mcp.endpoint()
        self._closed = asyncio.Event()
        await serve_asgi(self, endpoint.handle, self._closed, {"oui.user": self.user})

    def _handle_request_exception(self, e: BaseException) -> None:
        refused = isinstance(e, web.HTTPError) and e.status_code == 403
        anonymous = getattr(self, "_jupyter_current_user", "unknown") is None
        if not (refused and anonymous) or self._finished or self._headers_written:
            super()._handle_request_exception(e)
            return
        self.log.warning(
            "oui %s %s -> 401: no valid credentials", self.request.method, self.request.path
        )
        self.clear()
        self.set_status(401)
        self.set_header("WWW-Authenticate", 'Bearer realm="jupyter"')
        self.finish(msgspec.json.encode(UNAUTHENTICATED))
