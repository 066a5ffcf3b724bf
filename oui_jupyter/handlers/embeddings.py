"""``oui/api/embeddings`` (and ``oui/api/v1/embeddings``): OpenAI's embeddings endpoint."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.embeddings import CreateEmbeddings, EmbeddingsResponse
from oui_jupyter.services import embeddings
from oui_jupyter.services.embeddings import EmbeddingLimits

LIMITS = EmbeddingLimits()


class EmbeddingsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Embed texts with the embedding model of the retrieval settings (OpenAI's "
            f"/v1/embeddings): at most {LIMITS.max_inputs} inputs of "
            f"{LIMITS.max_input_chars} characters each (413 past either); 'model' left out "
            "or naming that model (404 otherwise); 502/504 when an embedding endpoint fails",
            body=CreateEmbeddings,
            response=EmbeddingsResponse,
            statuses=(404, 413, 422, 502, 503, 504),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        retrieval = self.retrieval
        embedder = retrieval.embedder
        counter = retrieval.splitter.counter

        def work(body: CreateEmbeddings) -> EmbeddingsResponse:
            return embeddings.create(body, embedder, counter.count, LIMITS)

        await self.write_json_off_loop(work, body=CreateEmbeddings)
