"""Retrieval-augmented generation: hits -> a prompt block with numbered sources, and
the ``sources`` list stored on the assistant message so a citation ``[n]`` leads back to
the exact file, cell, lines or page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ...store.index_types import Hit
from .defaults import DEFAULT_RAG_TEMPLATE

SNIPPET_CHARS = 300


def location(meta: dict[str, Any]) -> str:
    """Human form of where a chunk is: ``nb.ipynb, cell 3, lines 1-4`` / ``a.pdf, page 2``."""
    parts = [str(meta.get("source") or meta.get("name") or "?")]
    if meta.get("cell") is not None:
        parts.append(f"cell {meta['cell']}" + (" output" if meta.get("output") else ""))
    if meta.get("page") is not None:
        parts.append(f"page {meta['page']}")
    if meta.get("start_line") is not None and meta.get("page") is None:
        s, e = meta["start_line"], meta.get("end_line", meta["start_line"])
        parts.append(f"line {s}" if s == e else f"lines {s}-{e}")
    return ", ".join(parts)


def make_sources(hits: Sequence[Hit], texts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One entry per cited chunk, numbered from 1 in prompt order.

    Keeps Open WebUI's shape (``source``, ``document``, ``metadata``, ``distances``) and adds
    flat fields (``id``, ``path``, ``cell``, ``cell_id``, ``start_line``, ``end_line``, ``page``,
    ``snippet``, ``score``, ``retrievers``) for our clients.
    """
    out = []
    for i, hit in enumerate(hits, start=1):
        meta = hit.meta
        path = meta.get("source", "")
        snippet = (texts[i - 1] if texts else hit.text)[:SNIPPET_CHARS]
        kind = "workspace" if meta.get("collection") == "workspace" else "collection"
        out.append(
            {
                "id": i,
                "source": {
                    "id": path,
                    "name": meta.get("name") or path,
                    "type": kind,
                    "collection": meta.get("collection"),
                },
                "document": [snippet],
                "metadata": [meta],
                "distances": [round(hit.score, 6)],
                "path": path,
                "cell": meta.get("cell"),
                "cell_id": meta.get("cell_id"),
                "start_line": meta.get("start_line"),
                "end_line": meta.get("end_line"),
                "page": meta.get("page"),
                "location": location(meta),
                "snippet": snippet,
                "score": round(hit.score, 6),
                "retrievers": list(hit.retrievers),
            }
        )
    return out


def build_context(
    hits: Sequence[Hit],
    query: str,
    *,
    template: str = DEFAULT_RAG_TEMPLATE,
    budget_chars: int = 6000,
) -> tuple[str, list[dict[str, Any]]]:
    """The prompt block for ``query`` with ``hits`` as ``<source id="n">`` blocks, within
    ``budget_chars`` of source text (the last block is cut to fit, later ones dropped),
    and the matching ``sources`` list. No hits: ``("", [])``."""
    if not hits:
        return "", []
    blocks: list[str] = []
    used: list[Hit] = []
    texts: list[str] = []
    left = max(budget_chars, 200)
    for hit in hits:
        text = hit.text.strip()
        if len(text) > left:
            if left < 200:
                break
            text = text[:left].rsplit(" ", 1)[0] + " ..."
        n = len(used) + 1
        name = escape(location(hit.meta), quote=True)
        blocks.append(f'<source id="{n}" name="{name}">\n{text}\n</source>')
        used.append(hit)
        texts.append(text)
        left -= len(text)
        if left <= 0:
            break
    context = "\n".join(blocks)
    prompt = template.replace("{{CONTEXT}}", context).replace("{{QUERY}}", query)
    return prompt, make_sources(used, texts)
