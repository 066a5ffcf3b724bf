"""The route table of a team client server, relative to ``{base_url}oui/api/``.

Answered here (the workspace stays with the user's files):

- ``v1/retrieval/status``: the workspace index of this server;
- ``v1/retrieval/query/collection`` when ``collection_names`` is empty or names
  ``workspace`` (with team collections too: those are searched by the service and the two
  answers merged by score), ``v1/retrieval/query/doc`` when ``collection_name`` is
  ``workspace`` (team collections only: forwarded);
- ``chat/completions``, ``v1/chat/completions``, ``v1/chats/{id}/message``: workspace items of
  ``files`` and ``features.workspace`` are searched here, then the turn is forwarded without
  them and with ``workspace_context`` (a turn without them is forwarded as is);
- ``v1/tools/``: this server's tools (``runs: "client"``) merged with the service's
  (``runs: "service"``); a turn whose ``tool_ids`` name this server's tools runs them here
  over a tool channel (``tool_channel.py``), the service running the rest of the turn;
- ``events``: relayed both ways to the service's socket, plus local ``index:progress``.

Everything else (chats, models, knowledge, files, folders, tasks, admin, config, version,
users, the OpenAPI document, ``v1/retrieval/config``, ``process/*``) goes to the service.
"""

from __future__ import annotations

from oui_jupyter.team.client import events, handlers
from oui_jupyter.team.client.forward import ForwardHandler

CHAT_ID = r"(?P<chat_id>[\w-]{1,64})"

CLIENT_ROUTES: list[tuple[str, type]] = [
    (r"v1/retrieval/status", handlers.WorkspaceStatusHandler),
    (r"v1/retrieval/query/collection", handlers.WorkspaceQueryHandler),
    (r"v1/retrieval/query/doc", handlers.WorkspaceQueryDocHandler),
    (r"v1/tools/?", handlers.ClientToolsHandler),
    (r"chat/completions", handlers.WorkspaceTurnHandler),
    (r"v1/chat/completions", handlers.WorkspaceTurnHandler),
    (rf"v1/chats/{CHAT_ID}/message", handlers.WorkspaceTurnHandler),
    (r"events", events.RelayEventsHandler),
    (r"(?P<path>.*)", ForwardHandler),
]
