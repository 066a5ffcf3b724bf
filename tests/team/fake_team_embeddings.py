"""A jupyter server extension for the client tests' stand-in team service: the service's
``oui/api/embeddings`` (OpenAI-compatible), with hashed bag-of-words vectors, so that the
stand-in needs no model. Only alice (her server's token) may call it.

Named to load before ``oui_jupyter`` (extensions load alphabetically): its route is then
matched before oui's JSON 404 for unknown paths."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

DIM = 64
CALLS: list[int] = []


def vector(text: str) -> list[float]:
    vec = [0.0] * DIM
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vec[int.from_bytes(digest, "big") % DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


class EmbeddingsHandler(APIHandler):
    auth_resource = "oui"

    @web.authenticated
    def post(self) -> None:
        if self.current_user.username != "alice":
            raise web.HTTPError(403, "only alice's server embeds here")
        body = json.loads(self.request.body or b"{}")
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        CALLS.append(len(texts))
        self.finish(
            {
                "object": "list",
                "model": body.get("model", ""),
                "data": [
                    {"object": "embedding", "index": i, "embedding": vector(t)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            }
        )


class EchoHeadersHandler(APIHandler):
    """What a forwarded request carried (the headers the service saw)."""

    auth_resource = "oui"

    @web.authenticated
    def get(self) -> None:
        self.finish({"user": self.current_user.username, "headers": dict(self.request.headers)})


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "fake_team_embeddings"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    route = url_path_join(serverapp.base_url, "oui", "api", "embeddings")
    echo = url_path_join(serverapp.base_url, "oui", "api", "x-echo-headers")
    serverapp.web_app.add_handlers(".*$", [(route, EmbeddingsHandler), (echo, EchoHeadersHandler)])
