"""The kernel-side client: talk to the oui server over HTTP, sync (:class:`OuiClient`) or
async (:class:`AsyncOuiClient`). It is also the Python API for scripts::

    from oui_jupyter.notebook import OuiClient
    client = OuiClient()                      # finds the server that started this kernel
    chat = client.create_chat("analysis")
    for text in (turn := client.stream_message(chat["id"], "Hello")):
        print(text, end="")
    turn.message["sources"]

Every failure is an :class:`OuiError` whose message is one readable line.
``httpx`` is imported on first use, so importing this package stays cheap.

The modules: ``errors`` (the errors, and HTTP answers as errors), ``hits`` (search results),
``sse`` (the event-stream framing), ``turns`` (streamed turns), ``payloads`` (request bodies
and answer readers), ``plan`` (how an operation is described and run), ``endpoints`` (the
table of operations), ``transport`` (what both clients share), ``sync`` and ``aio`` (the
blocking and the asyncio client).
"""

from oui_jupyter.notebook.client.aio import AsyncOuiClient
from oui_jupyter.notebook.client.errors import (
    ApiError,
    AuthError,
    NotFound,
    OuiError,
    ServerUnreachable,
    json_body,
    raise_for,
    unreachable,
)
from oui_jupyter.notebook.client.hits import Hit, normalise_sources, parse_hits
from oui_jupyter.notebook.client.payloads import (
    FIND_CHAT_MAX_PAGES,
    WORKSPACE,
    default_model,
    exact_title,
    index_done,
    knowledge_items,
    message_body,
    new_chat_body,
    pick_knowledge,
    pick_model,
)
from oui_jupyter.notebook.client.sse import SSEParser
from oui_jupyter.notebook.client.sync import OuiClient
from oui_jupyter.notebook.client.turns import AsyncTurn, SyncTurn, Turn

__all__ = [
    "FIND_CHAT_MAX_PAGES",
    "WORKSPACE",
    "ApiError",
    "AsyncOuiClient",
    "AsyncTurn",
    "AuthError",
    "Hit",
    "NotFound",
    "OuiClient",
    "OuiError",
    "SSEParser",
    "ServerUnreachable",
    "SyncTurn",
    "Turn",
    "default_model",
    "exact_title",
    "index_done",
    "json_body",
    "knowledge_items",
    "message_body",
    "new_chat_body",
    "normalise_sources",
    "parse_hits",
    "pick_knowledge",
    "pick_model",
    "raise_for",
    "unreachable",
]
