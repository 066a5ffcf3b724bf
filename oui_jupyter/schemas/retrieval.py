"""Bodies of the retrieval, knowledge and file routes (Open WebUI shapes, plus our fields)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
TopK = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Query = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
Mode = Literal["hybrid", "keyword", "vector"]


class SearchFilters(msgspec.Struct):
    """``path``: glob(s) on the path relative to the root (``src/*.py``); ``file_type``: extensions."""

    path: str | list[str] | None = None
    file_type: str | list[str] | None = None


class QueryCollectionForm(msgspec.Struct):
    collection_names: list[Name]
    query: Query
    k: TopK | None = None
    hybrid: bool | None = None
    mode: Mode | None = None
    filter: SearchFilters | None = None


class QueryDocForm(msgspec.Struct):
    collection_name: Name
    query: Query
    k: TopK | None = None
    hybrid: bool | None = None
    mode: Mode | None = None
    filter: SearchFilters | None = None


class QueryResult(msgspec.Struct):
    """Open WebUI's answer (one list per query), plus which retrievers answered."""

    documents: list[list[str]]
    metadatas: list[list[dict[str, Any]]]
    distances: list[list[float]]
    retrievers: list[str]


class ProcessTextForm(msgspec.Struct):
    name: Name
    content: Annotated[str, msgspec.Meta(min_length=1)]
    collection_name: Name | None = None


class ProcessFileForm(msgspec.Struct):
    file_id: Name
    collection_name: Name | None = None


class ProcessResult(msgspec.Struct):
    status: bool
    collection_name: str
    filename: str | None = None
    chunks: int = 0


class RetrievalStatus(msgspec.Struct):
    ready: bool
    state: str
    error: str | None
    root_dir: str
    index_path: str
    files: int
    files_total: int
    chunks: int
    embedded: int
    pending: int
    skipped: dict[str, int]
    embedding_engine: str
    model: str
    model_loaded: bool
    embedding_error: str | None
    retrievers: list[str]


class RetrievalConfigBody(msgspec.Struct, omit_defaults=True):
    """Every field optional on update; the API key reads back as ``***``."""

    embedding_engine: Literal["sentence-transformers", "openai"] | None = None
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_batch_size: Annotated[int, msgspec.Meta(ge=1, le=4096)] | None = None
    chunk_size: Annotated[int, msgspec.Meta(ge=16, le=8192)] | None = None
    chunk_overlap: Annotated[int, msgspec.Meta(ge=0, le=4096)] | None = None
    top_k: TopK | None = None
    hybrid: bool | None = None
    fusion: Literal["relative", "rrf"] | None = None
    hybrid_alpha: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    relevance_threshold: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    keyword_relevance: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    rag_template: str | None = None
    rag_budget_chars: Annotated[int, msgspec.Meta(ge=200, le=1_000_000)] | None = None
    exclude: list[str] | None = None
    max_file_size: Annotated[int, msgspec.Meta(ge=1)] | None = None


# ----- knowledge -----
class KnowledgeData(msgspec.Struct):
    file_ids: list[str] = []
    paths: list[str] = []


class KnowledgeForm(msgspec.Struct):
    name: Name
    description: str = ""
    data: KnowledgeData | None = None
    shared: bool = False
    #: Open WebUI's: ``null`` sent is everyone on the team (as ``shared: true``); left out, the
    #: collection is its owner's; an object grants its readers and writers
    access_control: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET


class KnowledgeUpdateForm(msgspec.Struct):
    name: Name | None = None
    description: str | None = None
    shared: bool | None = None
    access_control: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET


class KnowledgeFileForm(msgspec.Struct):
    """Add/remove an upload (``file_id``) or a workspace file/folder (``path``, ours)."""

    file_id: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    path: Annotated[str, msgspec.Meta(min_length=1)] | None = None


class FileSummary(msgspec.Struct):
    id: str
    meta: dict[str, Any]
    status: str
    created_at: int
    updated_at: int


class KnowledgeResponse(msgspec.Struct):
    id: str
    user_id: str
    name: str
    description: str
    data: dict[str, Any]
    meta: dict[str, Any]
    access_control: dict[str, Any] | None
    shared: bool
    created_at: int
    updated_at: int
    files: list[FileSummary] = []


# ----- files -----
class FileResponse(msgspec.Struct):
    id: str
    user_id: str
    hash: str
    filename: str
    data: dict[str, Any]
    meta: dict[str, Any]
    created_at: int
    updated_at: int


class FileStatusResponse(msgspec.Struct):
    status: Literal["pending", "completed", "failed"]
    error: str | None = None
    chunks: int | None = None


class UploadQuery(msgspec.Struct):
    process: bool = True


class MessageResponse(msgspec.Struct):
    message: str
