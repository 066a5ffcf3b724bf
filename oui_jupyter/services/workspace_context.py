"""A turn's ``workspace_context``: the workspace hits a team client server retrieved on the
user's server and sent along with the turn (``team/client/workspace.py``).

The service checks its shape and size (422 / 413) and turns the sources back into hits, so
that they go into the one RAG block with its own retrieval (knowledge collections, uploads)
and onto the assistant message's ``sources``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from oui_jupyter.store.index_types import Hit

MAX_SOURCES = 32
MAX_SOURCE_CHARS = 16_000
MAX_TOTAL_CHARS = 64_000


def workspace_sources(value: Any) -> list[dict[str, Any]]:
    """The checked ``sources`` of a body's ``workspace_context`` (absent/null: none).

    Each source is an Open WebUI source whose ``document`` is ``[text]`` (a non-empty
    string) and whose ``metadata``, when given, is ``[object]``; other keys are kept."""
    if value is None:
        return []
    if not isinstance(value, dict) or set(value) - {"sources"}:
        raise InvalidInput("workspace_context must be an object {sources: [...]}")
    sources = value.get("sources")
    if not isinstance(sources, list):
        raise InvalidInput("workspace_context.sources must be a list")
    if len(sources) > MAX_SOURCES:
        raise PayloadTooLarge(
            f"workspace_context holds {len(sources)} sources; the limit is {MAX_SOURCES}"
        )
    total = 0
    for n, source in enumerate(sources):
        where = f"workspace_context.sources[{n}]"
        if not isinstance(source, dict):
            raise InvalidInput(f"{where} must be an object")
        document = source.get("document")
        if (
            not isinstance(document, list)
            or len(document) != 1
            or not isinstance(document[0], str)
            or not document[0].strip()
        ):
            raise InvalidInput(f"{where}.document must be [text] (a non-empty string)")
        metadata = source.get("metadata", [{}])
        if not isinstance(metadata, list) or len(metadata) > 1:
            raise InvalidInput(f"{where}.metadata must be [object]")
        if metadata and not isinstance(metadata[0], dict):
            raise InvalidInput(f"{where}.metadata must be [object]")
        score = source.get("score", 0.0)
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise InvalidInput(f"{where}.score must be a number")
        size = len(document[0])
        if size > MAX_SOURCE_CHARS:
            raise PayloadTooLarge(
                f"{where}.document holds {size} characters; the limit is {MAX_SOURCE_CHARS}"
            )
        total += size
    if total > MAX_TOTAL_CHARS:
        raise PayloadTooLarge(
            f"workspace_context holds {total} characters of text; the limit is {MAX_TOTAL_CHARS}"
        )
    return sources


def hits_of(sources: list[dict[str, Any]]) -> list[Hit]:
    """Checked sources (``workspace_sources``) as search hits of the workspace collection."""
    from oui_jupyter.store.index_types import Hit

    hits = []
    for n, source in enumerate(sources):
        metadata = source.get("metadata") or [{}]
        meta = {**metadata[0], "collection": "workspace"}
        if "source" not in meta:
            meta["source"] = str(source.get("path") or (source.get("source") or {}).get("id", ""))
        retrievers = source.get("retrievers")
        hits.append(
            Hit(
                position=-(n + 1),
                text=source["document"][0],
                meta=meta,
                score=float(source.get("score", 0.0)),
                retrievers=[str(r) for r in retrievers] if isinstance(retrievers, list) else [],
            )
        )
    return hits
