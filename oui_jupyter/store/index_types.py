"""The values a retrieval index takes and gives back (no engine code, cheap to import)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any


def text_hash(text: str) -> str:
    """The key of a chunk text in the embedding cache."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class FileRecord:
    collection: str
    source: str
    size: int
    mtime: float
    sha256: str
    file_type: str
    n_chunks: int
    status: str = "indexed"
    error: str | None = None
    indexed_at: float = field(default_factory=time.time)


@dataclass
class ChunkIn:
    """A chunk to store: its text and metadata (``source``, lines/cell/page...)."""

    text: str
    meta: dict[str, Any]


@dataclass
class Hit:
    position: int
    text: str
    meta: dict[str, Any]
    score: float
    retrievers: list[str] = field(default_factory=list)


@dataclass
class SearchFilter:
    """Which chunks a search may return. ``None`` fields do not filter.

    ``collections``: collection names; ``sources``: exact sources allowed *in the
    collections named by* ``sources_collection`` (a knowledge collection's workspace
    files); ``globs``: fnmatch patterns on the source path; ``file_types``: e.g. ``["ipynb"]``.
    """

    collections: list[str] | None = None
    sources: list[str] | None = None
    sources_collection: str = "workspace"
    globs: list[str] | None = None
    file_types: list[str] | None = None
