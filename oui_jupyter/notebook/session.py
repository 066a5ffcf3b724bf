"""What a kernel remembers between cells: the client, the chosen model, the notebook's chat.

The notebook's chat is the one titled after the notebook (``JPY_SESSION_NAME``); its id lives
in the kernel only, never in the notebook file. Magics and widgets share one session, so a
``%%chat`` cell and a :class:`ChatWidget` continue the same chat the sidebar shows.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from oui_jupyter.notebook.client import (
    NotFound,
    OuiClient,
    OuiError,
    default_model,
    pick_knowledge,
    pick_model,
)
from oui_jupyter.notebook.discovery import DiscoveryError, ServerInfo, find_server, notebook_path

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)\}")
_OPEN, _CLOSE = "\x00oui-open\x00", "\x00oui-close\x00"


class UndefinedName(OuiError):
    pass


def fill_template(text: str, namespace: dict[str, Any]) -> str:
    """Replace ``{name}`` and ``{name.attr}`` from the namespace; ``{{``/``}}`` are literal
    braces, and braces around anything else (code, JSON) are left alone."""
    text = text.replace("{{", _OPEN).replace("}}", _CLOSE)

    def value(match: re.Match[str]) -> str:
        name, attrs = match.group(1), match.group(2)
        if name not in namespace:
            raise UndefinedName(
                f"oui: {{{name}}} is not defined in the notebook (write {{{{{name}}}}} for literal braces)"
            )
        result = namespace[name]
        for attr in filter(None, attrs.split(".")):
            try:
                result = getattr(result, attr)
            except AttributeError:
                raise UndefinedName(
                    f"oui: {{{name}{attrs}}}: {name} has no attribute {attr!r}"
                ) from None
        return str(result)

    text = _PLACEHOLDER.sub(value, text)
    return text.replace(_OPEN, "{").replace(_CLOSE, "}")


class Session:
    """Per-kernel state shared by magics and widgets."""

    def __init__(self, server: ServerInfo | None = None, env: dict[str, str] | None = None) -> None:
        self._server = server
        self._env = env
        self._client: OuiClient | None = None
        self._models: list[dict[str, Any]] | None = None
        self.model: str | None = None
        self.chat_id: str | None = None

    # -- connection
    @property
    def server(self) -> ServerInfo:
        if self._server is None:
            try:
                self._server = find_server(self._env)
            except DiscoveryError as error:
                raise OuiError(str(error)) from None
        return self._server

    @property
    def client(self) -> OuiClient:
        if self._client is None:
            self._client = OuiClient(self.server)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the notebook
    @property
    def notebook(self) -> str | None:
        try:
            return notebook_path(self.server, self._env)
        except OuiError:
            return notebook_path(None, self._env)

    @property
    def chat_title(self) -> str:
        path = self.notebook
        return path if path else "Notebook session"

    @property
    def notebook_name(self) -> str:
        path = self.notebook
        return PurePosixPath(path).name if path else "notebook"

    # -- models
    def models(self, refresh: bool = False) -> list[dict[str, Any]]:
        """The list as the server gives it at once; ``refresh``: read again, waiting for
        connections that are still answering."""
        if self._models is None or refresh:
            self._models = self.client.models(wait=refresh)
        return self._models

    def resolve_model(self, wanted: str | None = None) -> str:
        """The model id to use: ``wanted``, else the chosen one, else the server's first."""
        wanted = wanted or self.model
        if wanted:
            try:
                return str(pick_model(self.models(), wanted)["id"])
            except NotFound:
                return str(pick_model(self.models(refresh=True), wanted)["id"])
        model = default_model(self.models()) or default_model(self.models(refresh=True))
        if model is None:
            raise OuiError(
                "oui: the server has no model available; add a connection in the sidebar"
            )
        return model

    def use_model(self, wanted: str) -> str:
        self.model = self.resolve_model(wanted)
        return self.model

    # -- chats
    def notebook_chat(self, model: str | None = None) -> str:
        """The id of this notebook's chat: remembered, else found by title, else created."""
        if self.chat_id is None:
            found = self.client.find_chat(self.chat_title)
            if found is None:
                found = self.client.create_chat(self.chat_title, model)
            self.chat_id = str(found["id"])
        return self.chat_id

    def new_chat(self, model: str | None = None, title: str | None = None) -> str:
        chat = self.client.create_chat(title or self.chat_title, model)
        self.chat_id = str(chat["id"])
        return self.chat_id

    def use_chat(self, chat_id: str) -> dict[str, Any]:
        """Check that a chat exists (one clear line when not)."""
        try:
            return self.client.get_chat(chat_id)
        except NotFound:
            raise NotFound(
                f"oui: chat {chat_id!r} not found (list yours with %oui chats)"
            ) from None

    def knowledge_files(self, names: list[str]) -> list[dict[str, Any]]:
        if not names:
            return []
        items = self.client.knowledge()
        files = []
        for name in names:
            item = pick_knowledge(items, name)
            files.append({"type": "collection", "id": item["id"], "name": item.get("name", name)})
        return files


_SESSION: Session | None = None


def shared_session() -> Session:
    """The kernel's one :class:`Session`, shared by the magics and the widgets."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session()
    return _SESSION
