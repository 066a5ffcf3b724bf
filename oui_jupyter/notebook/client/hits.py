"""Search results: the hits of a retrieval query, and the citations of an answer as hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oui_jupyter.notebook.discovery import ServerInfo


@dataclass
class Hit:
    """One search result."""

    path: str
    snippet: str
    link: str
    cell: int | None = None
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    distance: float | None = None

    @property
    def where(self) -> str:
        parts = []
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.start_line is not None:
            end = self.end_line if self.end_line not in (None, self.start_line) else None
            parts.append(f"lines {self.start_line}-{end}" if end else f"line {self.start_line}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        return ", ".join(parts)


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def parse_hits(body: dict[str, Any], server: ServerInfo) -> list[Hit]:
    """``{documents: [[...]], metadatas: [[...]], distances: [[...]]}`` -> hits, best first."""

    def first(key: str) -> list[Any]:
        value = body.get(key) or [[]]
        return list(value[0] or []) if value and isinstance(value[0], list) else list(value)

    documents, metadatas, distances = first("documents"), first("metadatas"), first("distances")
    hits = []
    for index, text in enumerate(documents):
        meta = (
            metadatas[index]
            if index < len(metadatas) and isinstance(metadatas[index], dict)
            else {}
        )
        path = str(meta.get("source") or meta.get("name") or "")
        distance = distances[index] if index < len(distances) else None
        hits.append(
            Hit(
                path=path,
                snippet=str(text or ""),
                link=server.lab_link(path) if path else "",
                cell=_int(meta.get("cell")),
                start_line=_int(meta.get("start_line")),
                end_line=_int(meta.get("end_line")),
                page=_int(meta.get("page")),
                distance=float(distance) if isinstance(distance, (int, float)) else None,
            )
        )
    return hits


def normalise_sources(sources: Any, server: ServerInfo) -> list[Hit]:
    """Citations in either shape -> hits.

    Flat ``{source: path, cell, start_line, end_line, page, snippet}`` (the sidebar's) or Open
    WebUI's ``{source: {...}, document: [...], metadata: [{source, ...}]}``.
    """
    hits: list[Hit] = []
    seen: set[tuple[Any, ...]] = set()
    for item in sources or []:
        if not isinstance(item, dict):
            continue
        entries: list[tuple[dict[str, Any], str]] = []
        if isinstance(item.get("path"), str):  # ours: flat fields (and Open WebUI's beside them)
            entries.append((item, str(item.get("snippet") or "")))
        elif isinstance(item.get("metadata"), list):
            documents = item.get("document") or []
            for index, meta in enumerate(item["metadata"]):
                if isinstance(meta, dict):
                    text = documents[index] if index < len(documents) else ""
                    entries.append((meta, str(text)))
        else:
            entries.append((item, str(item.get("snippet") or item.get("document") or "")))
        for meta, text in entries:
            source = meta.get("path") or meta.get("source")
            if isinstance(source, dict):
                source = source.get("path") or source.get("name") or source.get("id")
            path = str(source or meta.get("name") or meta.get("file") or "")
            hit = Hit(
                path=path,
                snippet=text,
                link=server.lab_link(path) if path else "",
                cell=_int(meta.get("cell")),
                start_line=_int(meta.get("start_line")),
                end_line=_int(meta.get("end_line")),
                page=_int(meta.get("page")),
            )
            key = (hit.path, hit.cell, hit.start_line, hit.end_line, hit.page)
            if path and key not in seen:
                seen.add(key)
                hits.append(hit)
    return hits
