"""A Tornado request handed to an ASGI application (the MCP SDK's Streamable HTTP transport).

The request body is already read (Jupyter's handlers are not streaming), so ``receive``
answers it at once, then waits for the client to go away (``http.disconnect``). What the
app sends is written through the handler; a body with ``more_body`` is flushed at once, so
an event stream reaches the client as it goes. Tornado frames the response itself
(``Content-Length`` or chunks): the app's own framing headers are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tornado.web import RequestHandler

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_FRAMING = {"content-length", "transfer-encoding", "connection"}


def scope_of(handler: RequestHandler, extra: dict[str, Any]) -> dict[str, Any]:
    request = handler.request
    host, _, port = (request.host or "").rpartition(":")
    server = (host, int(port)) if port.isdigit() else (request.host or "", 0)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.version.removeprefix("HTTP/") or "1.1",
        "method": request.method or "GET",
        "scheme": request.protocol,
        "path": request.path,
        "raw_path": request.path.encode("latin-1", "replace"),
        "query_string": (request.query or "").encode("latin-1", "replace"),
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            for name, value in request.headers.get_all()
        ],
        "client": (request.remote_ip or "", 0),
        "server": server,
        "state": {},
        **extra,
    }


async def serve_asgi(
    handler: RequestHandler, app: App, closed: asyncio.Event, extra: dict[str, Any]
) -> None:
    """Answer ``handler``'s request with ``app``. ``closed``: set when the client goes
    away (the handler's ``on_connection_close``); ``extra``: added to the scope."""
    body_sent = False
    content_type = "application/json"

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": handler.request.body or b"", "more_body": False}
        await closed.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal content_type
        if message["type"] == "http.response.start":
            handler.set_status(int(message["status"]))
            handler.clear_header("Content-Type")
            for raw_name, raw_value in message.get("headers", ()):
                name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
                if name.lower() in _FRAMING:
                    continue
                if name.lower() == "content-type":
                    content_type = value
                handler.add_header(name, value)
        elif message["type"] == "http.response.body":
            if closed.is_set():
                return
            chunk = message.get("body", b"")
            if chunk:
                handler.write(chunk)
            if message.get("more_body"):
                await handler.flush()

    await app(scope_of(handler, extra), receive, send)
    if not handler._finished:  # tornado's own flag
        handler.finish(set_content_type=content_type)  # type: ignore[call-arg]  # APIHandler's
