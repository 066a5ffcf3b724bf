"""The workspace part of a turn, computed on the user's server.

A turn's ``files`` items that name workspace paths or folders (``{"type": "path"|
"directory"|..., "path": ...}``, no ``id``) and ``features.workspace`` are searched here, in
the local index; the turn goes to the service without them and with
``"workspace_context": {"sources": [...]}`` (the hits, each with its text), so the service
puts them in its one RAG block while the user message it stores is what the user wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oui_jupyter.services.message_text import text_of

if TYPE_CHECKING:
    from oui_jupyter.services.retrieval.service import RetrievalService
    from oui_jupyter.store.index_types import SearchFilter

WORKSPACE = "workspace"
#: Most characters of one source's text sent along (the service refuses larger ones: 413).
MAX_SOURCE_CHARS = 8000


def last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def is_workspace_item(item: Any) -> bool:
    """A ``files`` item naming a workspace path or folder (not an upload or a team
    collection), or the ``workspace`` collection itself."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type", "file")
    if kind == "collection" and item.get("id") == WORKSPACE:
        return True
    if not item.get("path"):
        return False
    return not (kind in ("file", "collection") and item.get("id"))


def asks_workspace(body: dict[str, Any]) -> bool:
    """The turn sets ``features.workspace``: the whole workspace, held to the relevance bar."""
    features = body.get("features")
    return isinstance(features, dict) and bool(features.get(WORKSPACE))


def split_turn(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, dict[str, Any]]:
    """``(workspace paths and folders, whole workspace?, body without them)``; the body
    itself when the turn names nothing of the workspace."""
    files = body.get("files")
    items: list[dict[str, Any]] = []
    rest_files: list[Any] = []
    whole_collection = False
    if isinstance(files, list):
        for item in files:
            if not is_workspace_item(item):
                rest_files.append(item)
            elif item.get("type") == "collection":
                whole_collection = True
            else:
                items.append(item)
    features = body.get("features")
    whole = whole_collection or asks_workspace(body)
    if not items and not whole:
        return [], False, body
    out = dict(body)
    if isinstance(files, list):
        out["files"] = rest_files
    if isinstance(features, dict):
        out["features"] = {k: v for k, v in features.items() if k != WORKSPACE}
    return items, whole, out


def turn_query(body: dict[str, Any], message_route: bool) -> str:
    """The text retrieval searches for: a ``v1/chats/{id}/message`` turn's ``content``, else
    the last user message of ``messages`` (or Open WebUI's ``user_message``)."""
    if message_route:
        return text_of(body.get("content"))
    text = last_user_text(body.get("messages"))
    if text:
        return text
    for key in ("user_message", "parent_message"):
        message = body.get(key)
        if isinstance(message, dict):
            text = last_user_text([{"role": "user", "content": message.get("content")}])
            if text:
                return text
    return ""


def _filter(items: Sequence[dict[str, Any]], whole: bool) -> SearchFilter:
    """The workspace part of ``RetrievalService._rag_filter``: paths, folders or all of it."""
    from oui_jupyter.store.index_types import SearchFilter

    sources: list[str] = []
    globs: list[str] = []
    for item in items:
        path = str(item["path"]).lstrip("/")
        if path.endswith("/") or item.get("type") == "directory":
            globs.append(path.rstrip("/") + "/*")
        else:
            sources.append(path)
    flt = SearchFilter(collections=[WORKSPACE] if whole or globs else [])
    if sources:
        flt.sources = sources
    if globs and not whole:
        flt.globs = globs
    return flt


def workspace_sources(
    retrieval: RetrievalService,
    query: str,
    items: Sequence[dict[str, Any]],
    whole: bool,
    *,
    k: int,
    budget_chars: int,
    relevant_only: bool = False,
) -> list[dict[str, Any]]:
    """The hits for ``query`` in the named part of the workspace, as Open WebUI sources whose
    ``document`` is the chunk's text, within ``budget_chars`` in all (blocking).
    ``relevant_only`` (the turn's ``features.workspace``): only hits that clear the relevance
    bar or lie in a path or folder the turn names."""
    from oui_jupyter.services.retrieval.rag import make_sources

    if not query.strip():
        return []
    flt = _filter(items, whole)
    hits = retrieval.search(query, k=k, flt=flt).hits
    if relevant_only:
        named = set(flt.sources or [])
        folders = [
            str(i["path"]).strip("/") + "/"
            for i in items
            if str(i["path"]).endswith("/") or i.get("type") == "directory"
        ]
        hits = retrieval.relevant(
            hits,
            query,
            lambda hit: (
                str(hit.meta.get("source", "")) in named
                or str(hit.meta.get("source", "")).startswith(tuple(folders))
            ),
        )
    used = []
    texts: list[str] = []
    left = max(budget_chars, 200)
    for hit in hits:
        text = hit.text.strip()[: min(left, MAX_SOURCE_CHARS)]
        if not text:
            continue
        used.append(hit)
        texts.append(text)
        left -= len(text)
        if left < 200:
            break
    sources = make_sources(used, texts)
    for source, text in zip(sources, texts, strict=True):
        source["document"] = [text]
    return sources
