"""OpenAI-compatible embeddings from the retrieval service's embedding model.

Under a team hub this is the one embedding model of the whole team: user servers embed their
workspace through the service's ``oui/api/embeddings`` instead of loading a model each.
``create`` is blocking (the model runs in the caller's thread): call it off the event loop.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oui_jupyter.errors import InvalidInput, NotFound, PayloadTooLarge
from oui_jupyter.providers.embeddings import _BUNDLED_ALIASES
from oui_jupyter.schemas.embeddings import (
    CreateEmbeddings,
    Embedding,
    EmbeddingsResponse,
    EmbeddingsUsage,
)

if TYPE_CHECKING:
    from oui_jupyter.providers.embeddings import EmbeddingProvider


@dataclass(frozen=True)
class EmbeddingLimits:
    #: most texts in one request (413 past it)
    max_inputs: int = 256
    #: most characters of one text (413 past it)
    max_input_chars: int = 32_000
    #: most characters of all the texts of one request (413 past it)
    max_total_chars: int = 1_000_000


def check_inputs(body: CreateEmbeddings, limits: EmbeddingLimits) -> list[str]:
    """The request's texts, refused before any work when there are none or too many."""
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts:
        raise InvalidInput("input is empty: give a text or a list of texts")
    if len(texts) > limits.max_inputs:
        raise PayloadTooLarge(
            f"{len(texts)} inputs; at most {limits.max_inputs} per request",
            reason="embeddings_too_many_inputs",
        )
    longest = max(len(text) for text in texts)
    if longest > limits.max_input_chars:
        raise PayloadTooLarge(
            f"an input is {longest} characters; at most {limits.max_input_chars}",
            reason="embeddings_input_too_long",
        )
    total = sum(len(text) for text in texts)
    if total > limits.max_total_chars:
        raise PayloadTooLarge(
            f"the inputs are {total} characters in all; at most {limits.max_total_chars}",
            reason="embeddings_too_large",
        )
    return texts


def check_model(requested: str | None, embedder: EmbeddingProvider) -> None:
    """``model`` may be left out or name the embedding model in use (404 otherwise)."""
    if not requested:
        return
    names = {embedder.model_id, getattr(embedder, "model_name", embedder.model_id)}
    if names & _BUNDLED_ALIASES:
        names |= _BUNDLED_ALIASES
    if requested not in names:
        raise NotFound(
            f"Embedding model {requested!r} is not served here; the model is "
            f"{embedder.model_id!r} (or leave 'model' out)",
            reason="model_not_found",
        )


def create(
    body: CreateEmbeddings,
    embedder: EmbeddingProvider,
    count_tokens: Callable[[Sequence[str]], list[int]],
    limits: EmbeddingLimits,
) -> EmbeddingsResponse:
    """Embed the request's texts (blocking: the model's load on first use, then the work)."""
    texts = check_inputs(body, limits)
    check_model(body.model, embedder)
    vectors = embedder.embed(texts)
    data = []
    for index, vector in enumerate(vectors):
        if body.encoding_format == "base64":
            value: list[float] | str = base64.b64encode(vector.astype("<f4").tobytes()).decode(
                "ascii"
            )
        else:
            value = vector.tolist()
        data.append(Embedding(index=index, embedding=value))
    tokens = sum(count_tokens(texts))
    return EmbeddingsResponse(
        data=data,
        model=embedder.model_id,
        usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
