"""A tiny scripted oui server (the contract of /work/shared/API.md) for unit tests of the client.

Not the real server: the end-to-end tests use that. This one records requests and answers
with canned, contract-shaped bodies, streaming SSE like the turn route.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "scripted-secret-token"
SEARCH_PAGE = 2  # small, so that a lookup must read several pages
MODELS = [
    {"id": "smollm2", "object": "model", "owned_by": "llama.cpp", "name": "SmolLM2"},
    {"id": "other", "object": "model", "owned_by": "openai", "name": "Other"},
]
SOURCES = [
    {"source": "src/data.py", "cell": None, "start_line": 3, "end_line": 9, "snippet": "def load()"}
]


class State:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        self.chats: dict[str, dict[str, Any]] = {}
        self.knowledge = [{"id": "kb-1", "name": "papers"}]
        self.answer_chunks = ["Hello", ", ", "world", "."]
        self.chunk_delay = 0.0
        self.pending_models: list[dict[str, Any]] = []  # listed only with ?wait=true
        self.image_bytes = b"\x89PNG\r\n\x1a\n scripted image"
        self.image_error: tuple[int, str] | None = None
        self.prompts: dict[str, dict[str, Any]] = {}  # the library: "/command" -> prompt


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body() if method in ("POST", "DELETE") else None
        self.state.requests.append((method, url.path, body, dict(self.headers)))
        if self.headers.get("Authorization") != f"token {TOKEN}":
            return self._send(403, {"message": "Forbidden", "reason": None})
        path = url.path.removeprefix("/oui/api/")
        query = parse_qs(url.query)
        chats = self.state.chats
        if path == "version":
            return self._send(200, {"version": "0.0-test"})
        if path == "models":
            if query.get("wait") == ["true"]:
                return self._send(200, {"data": MODELS + self.state.pending_models, "pending": []})
            pending = ["1"] if self.state.pending_models else []
            return self._send(200, {"data": MODELS, "pending": pending})
        if path == "v1/chats/" and method == "GET":
            items = [{"id": c["id"], "title": c["title"]} for c in chats.values()]
            return self._send(200, list(reversed(items)))
        if path == "v1/chats/search":
            text = query.get("text", [""])[0].lower()
            items = [
                {"id": c["id"], "title": c["title"]}
                for c in reversed(chats.values())
                if text in c["title"].lower()
            ]
            page = int(query.get("page", ["1"])[0])  # newest first, SEARCH_PAGE a page
            return self._send(200, items[(page - 1) * SEARCH_PAGE : page * SEARCH_PAGE])
        if path == "v1/chats/new":
            chat_id = uuid.uuid4().hex
            chats[chat_id] = {
                "id": chat_id,
                "title": body["chat"]["title"],
                "chat": body["chat"],
                "turns": [],
            }
            return self._send(200, chats[chat_id])
        if path == "v1/knowledge/":
            return self._send(200, self.state.knowledge)
        if path == "v1/prompts/":
            return self._send(200, list(self.state.prompts.values()))
        if path.startswith("v1/prompts/command/"):
            found = self.state.prompts.get("/" + path.removeprefix("v1/prompts/command/"))
            if found is None:
                return self._send(404, {"message": "Prompt not found", "reason": None})
            return self._send(200, found)
        if path == "v1/retrieval/status":
            return self._send(
                200,
                {
                    "state": "indexing",
                    "files": 3,
                    "files_total": 4,
                    "chunks": 12,
                    "embedded": 10,
                    "pending": 2,
                    "model": "all-MiniLM-L6-v2",
                },
            )
        if path == "v1/retrieval/query/collection":
            k = body.get("k", 5)
            docs = [f"snippet {i} about {body['query']}" for i in range(k)]
            metas = [
                {"source": f"nb/analysis {i}.ipynb", "cell": i, "start_line": 1, "end_line": 4}
                for i in range(k)
            ]
            return self._send(
                200, {"documents": [docs], "metadatas": [metas], "distances": [[0.1] * k]}
            )
        parts = path.split("/")
        if len(parts) >= 3 and parts[:2] == ["v1", "chats"]:
            chat = chats.get(parts[2])
            if chat is None:
                return self._send(404, {"message": f"Chat {parts[2]} not found", "reason": None})
            if len(parts) == 3 and method == "GET":
                return self._send(200, chat)
            if parts[3:] == ["message"]:
                return self._turn(chat, body)
        if path == "v1/images/generations":
            if self.state.image_error is not None:
                code, message = self.state.image_error
                return self._send(code, {"message": message, "reason": None})
            return self._send(
                200,
                [{"url": f"/oui/api/v1/files/img-{i}/content"} for i in range(body.get("n", 1))],
            )
        if parts[:2] == ["v1", "files"] and parts[3:] == ["content"]:
            data = self.state.image_bytes
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if path.startswith("tasks/chat/"):
            return self._send(200, {"status": True})
        return self._send(404, {"message": f"no route {path}", "reason": None})

    def _turn(self, chat: dict[str, Any], body: dict[str, Any]) -> None:
        if body.get("model") not in (None, *[m["id"] for m in MODELS]):
            return self._send(404, {"message": f"Model {body['model']} not found", "reason": None})
        chat["turns"].append(body)
        content = "".join(self.state.answer_chunks)
        message = {
            "id": uuid.uuid4().hex,
            "parentId": "u1",
            "role": "assistant",
            "content": content,
            "model": body.get("model"),
            "sources": SOURCES if body.get("features", {}).get("workspace") else [],
            "done": True,
        }
        chat["chat"].setdefault("messages", []).extend(
            [{"role": "user", "content": body["content"]}, message]
        )
        if not body.get("stream"):
            return self._send(200, message)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for piece in self.state.answer_chunks:
            chunk = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}}],
            }
            try:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            except OSError:  # the client stopped reading
                return
            time.sleep(self.state.chunk_delay)
        self.wfile.write(f"data: {json.dumps({'message': message})}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


class ScriptedServer:
    def __init__(self) -> None:
        self.state = State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
