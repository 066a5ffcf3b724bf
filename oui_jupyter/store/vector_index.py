"""``VectorIndex``: what the retrieval service, its indexer and search need of an index.

An engine is a class built as ``cls(path, embedding_model=...)`` (``path``: the index
file of one workspace root) whose instances have the members below;
:class:`~oui_jupyter.store.duckdb_store.DuckDBVectorStore` is the default one. Chunks are
addressed by *position*: an int the index hands out, valid while :meth:`reading` is held.

``issubclass(cls, VectorIndex)`` is structural: a class passes when it has every method of
the protocol (attributes such as ``path`` are set per instance, so a class cannot show
them). That is what the ``retrieval_store_class`` traitlet checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .index_types import ChunkIn, FileRecord, SearchFilter

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    #: best first: ``(positions, scores)``
    Ranked = tuple[NDArray[np.int64], NDArray[np.float32]]


@runtime_checkable
class VectorIndex(Protocol):
    #: where the index lives (shown in the retrieval status)
    path: str
    #: the model the stored vectors belong to
    embedding_model: str

    @property
    def loaded(self) -> bool:
        """True once :meth:`open` has loaded the index."""
        ...

    def open(self) -> None:
        """Open (or create) the index; slow, called off the event loop."""
        ...

    def close(self) -> None: ...

    # -- files and chunks ---------------------------------------------------------------
    def list_files(self, collection: str) -> list[FileRecord]: ...

    def touch_file(self, rec: FileRecord) -> None:
        """Record a file's new size/mtime; its content (and chunks) did not change."""
        ...

    def write_files(self, batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]]) -> int:
        """Replace the chunks of each file (``None`` chunks: record the file only); the new
        chunks are keyword-searchable on return. Returns how many still need a vector."""
        ...

    def delete_files(self, collection: str, sources: Sequence[str]) -> int:
        """Forget files and their chunks; returns how many were known."""
        ...

    def delete_collection(self, collection: str) -> None: ...

    def sources(self, collection: str) -> list[str]:
        """The sources (file paths or document names) of a collection, sorted."""
        ...

    # -- embeddings -----------------------------------------------------------------------
    def set_embedding_model(self, model: str) -> None:
        """Switch models: vectors of ``model`` seen before come back, the rest is pending."""
        ...

    def pending(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` chunks without a vector: ``(position, text_hash, text)``."""
        ...

    def put_embeddings(self, model: str, items: Sequence[tuple[int, str]], vecs: ArrayLike) -> None:
        """Vectors (rows of ``vecs``) for ``items`` = ``(position, text_hash)`` of ``pending``."""
        ...

    def has_vectors(self) -> bool: ...

    # -- search -----------------------------------------------------------------------------
    def reading(self) -> AbstractContextManager[Any]:
        """Held while positions are turned into results: nothing renumbers them meanwhile."""
        ...

    def mask(self, flt: SearchFilter | None) -> NDArray[np.bool_]:
        """Bool array over positions: live chunks that ``flt`` lets through."""
        ...

    def keyword_search(self, query: str, n: int, mask: NDArray[np.bool_] | None = None) -> Ranked:
        """BM25 ``(positions, scores)``, best first."""
        ...

    def vector_search(
        self, qvec: ArrayLike, n: int, mask: NDArray[np.bool_] | None = None
    ) -> Ranked:
        """Cosine ``(positions, scores)`` over chunks that have a vector, best first."""
        ...

    def fetch(self, positions: Sequence[int]) -> list[tuple[str, dict[str, Any]]]:
        """``(text, metadata)`` of each position."""
        ...

    def stats(self, collection: str | None = None) -> dict[str, Any]:
        """``files``, ``chunks``, ``embedded``, ``pending``, ``model``, ``dim``."""
        ...

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        if cls is not VectorIndex:
            return NotImplemented
        return all(callable(getattr(other, name, None)) for name in _METHODS) or NotImplemented


#: the protocol's methods, which ``issubclass`` looks for
_METHODS = tuple(
    name
    for name, value in vars(VectorIndex).items()
    if not name.startswith("_") and callable(value)
)


@runtime_checkable
class RenamesCollections(Protocol):
    """An index that can rename its collections once (the private-key migration)."""

    def rename_collections_once(
        self, marker: str, plan: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]: ...
