"""OpenAI's ``/v1/embeddings`` request and response, as the team's embedding model answers it."""

from __future__ import annotations

from typing import Literal

import msgspec


class CreateEmbeddings(msgspec.Struct):
    """``input``: one text or a list of texts (token arrays are not accepted)."""

    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


class Embedding(msgspec.Struct):
    index: int
    #: floats, or with ``encoding_format: "base64"`` the little-endian float32 bytes in base64
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingsUsage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(msgspec.Struct):
    data: list[Embedding]
    model: str
    usage: EmbeddingsUsage
    object: str = "list"
