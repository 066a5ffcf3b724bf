"""An OpenAI-compatible ``/v1/embeddings`` endpoint on a local port: bag-of-words vectors
(``retrieval.helpers.HashEmbedder``), no model to load. For the tests of the ``openai``
embedding engine and of servers that embed through it."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from retrieval.helpers import HashEmbedder


class EmbeddingsEndpoint(BaseHTTPRequestHandler):
    """Answers ``POST /v1/embeddings``; ``fail``: answer 500; ``requests``: the bodies seen."""

    embedder = HashEmbedder(dim=16)
    fail = False
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if self.path != "/v1/embeddings" or type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        vecs = self.embedder.embed(body["input"]) * 3.0  # not normalised: the client must do it
        data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)
        ]
        out = json.dumps(
            {
                "object": "list",
                "data": data[::-1],
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def embeddings_endpoint() -> Iterator[str]:
    """Serve :class:`EmbeddingsEndpoint` (reset) in a thread; yields its base URL (``.../v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    EmbeddingsEndpoint.fail = False
    EmbeddingsEndpoint.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
