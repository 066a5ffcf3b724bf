"""What the endpoints send and how their answers are read, as plain functions of JSON."""

from __future__ import annotations

from typing import Any

from oui_jupyter.notebook.client.errors import NotFound, OuiError

WORKSPACE = "workspace"


def new_chat_body(title: str, model: str | None) -> dict[str, Any]:
    return {
        "chat": {
            "title": title,
            "models": [model] if model else [],
            "history": {"messages": {}, "currentId": None},
            "messages": [],
        }
    }


def message_body(
    content: str | list[dict[str, Any]],
    model: str | None,
    parent_id: str | None,
    files: list[dict[str, Any]] | None,
    workspace: bool,
    stream: bool,
    params: dict[str, Any] | None = None,
    tool_ids: list[str] | None = None,
    notebook_path: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"content": content, "stream": stream}
    if tool_ids:
        body["tool_ids"] = tool_ids
        if notebook_path and notebook_path.endswith(".ipynb") and not notebook_path.startswith("/"):
            body["notebook_path"] = notebook_path  # the notebook the tools act on
    if params:
        body["params"] = params
    if model:
        body["model"] = model
    if parent_id:
        body["parent_id"] = parent_id
    if files:
        body["files"] = files
    if workspace:
        body["features"] = {"workspace": True}
    return body


# A notebook's chat is searched for page by page (60 chats a page): up to 6,000 chats.
FIND_CHAT_MAX_PAGES = 100


def exact_title(found: Any, title: str) -> dict[str, Any] | None:
    """The first chat of a search page titled exactly ``title``. The search also matches chats
    that merely mention it (in their title or messages), so the one wanted may be on a later
    page; stopping at the first page made a duplicate notebook chat."""
    return next((c for c in found or [] if isinstance(c, dict) and c.get("title") == title), None)


def knowledge_items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = body.get("items") or body.get("data") or []
    return [item for item in body or [] if isinstance(item, dict)]


def pick_knowledge(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for item in items:
        if item.get("name") == name or item.get("id") == name:
            return item
    for item in items:
        if str(item.get("name", "")).lower() == name.lower():
            return item
    names = ", ".join(sorted(str(i.get("name")) for i in items)) or "none"
    raise NotFound(f"oui: no knowledge collection named {name!r} (have: {names})")


def pick_model(models: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    for model in models:
        if model.get("id") == wanted:
            return model
    for model in models:
        if str(model.get("name", "")).lower() == wanted.lower():
            return model
    ids = ", ".join(str(m.get("id")) for m in models) or "none"
    raise NotFound(f"oui: unknown model {wanted!r} (available: {ids})")


def default_model(models: list[dict[str, Any]]) -> str | None:
    """The first available model, else the first listed one: ``available: false`` may only mean
    that its server was busy when the list was fetched, and the server's answer to the turn
    says clearly whether it is really down."""
    usable = [m for m in models if m.get("available", True) is not False] or models
    return str(usable[0]["id"]) if usable else None


def index_done(status: dict[str, Any]) -> bool:
    """The workspace index has scanned everything and embedded every chunk (or failed)."""
    if status.get("state") == "error":
        raise OuiError(f"oui: the workspace index failed: {status.get('error')}")
    return status.get("state") == "idle" and not status.get("pending")
