"""An in-page stand-in for the oui-jupyter REST API and events socket.

Playwright answers ``oui/api/...`` requests and the ``oui/api/events`` WebSocket from the test
process, so the UI's own logic (streaming, stop, branches, sanitising, error display) is
checked token by token and deterministically. ``test_live.py`` runs the same flows against
the real server and the embedded model.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def _id() -> str:
    return uuid.uuid4().hex


def _text(content: Any) -> str:
    """A message's text (the server stores the text of content parts)."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content


@dataclass
class Turn:
    """A completion the UI started: the test streams its answer."""

    chat_id: str
    message_id: str
    user_message_id: str | None
    request: dict[str, Any]


@dataclass
class FakeBackend:
    models: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": "smollm2",
                "name": "SmolLM2 (embedded)",
                "owned_by": "llama.cpp",
                "connection": "local",
            },
            {
                "id": "gpt-x",
                "name": "GPT X",
                "owned_by": "openai",
                "connection": "openai",
                "available": False,
                "unavailable_reason": "no API key",
            },
        ]
    )
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    completion_error: tuple[int, str] | None = None
    sockets: list[Any] = field(default_factory=list)
    sent_frames: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    # Upload id -> (content type, bytes), served by ``v1/files/{id}/content``.
    upload_bytes: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # Share id -> the snapshot (a ChatResponse with ``user_id`` and ``share_id``).
    shares: dict[str, dict[str, Any]] = field(default_factory=dict)
    _last_body: bytes | None = None

    # -- wiring -------------------------------------------------------------
    def install(self, context: Any) -> None:
        """Route a browser context (all its tabs) to this fake."""
        context.route(re.compile(r".*/oui/api/(?!events).*"), self._handle)
        context.route_web_socket(re.compile(r".*/oui/api/events.*"), self._on_socket)

    def _on_socket(self, ws: Any) -> None:
        self.sockets.append(ws)

        def on_message(message: str | bytes) -> None:
            if isinstance(message, bytes):
                return
            frame = json.loads(message)
            self.sent_frames.append(frame)
            if frame.get("type") == "chat:stop":
                self._stop(frame["chat_id"])

        ws.on_message(on_message)

    def emit(self, frame: dict[str, Any]) -> None:
        """Send a frame to every open socket (every tab of the user)."""
        text = json.dumps(frame)
        for ws in self.sockets:
            try:
                ws.send(text)
            except Exception:  # a closed page
                pass

    # -- streaming helpers ----------------------------------------------------
    def stream(
        self,
        turn: Turn,
        tokens: list[str],
        page: Any,
        delay_ms: int = 40,
        done: bool = True,
        sources: list[dict[str, Any]] | None = None,
    ) -> None:
        message = self.chats[turn.chat_id]["chat"]["history"]["messages"][turn.message_id]
        for token in tokens:
            offset = len(message["content"])
            message["content"] += token
            self.emit(
                {
                    "type": "chat:completion",
                    "chat_id": turn.chat_id,
                    "message_id": turn.message_id,
                    "data": {"delta": token, "offset": offset},
                }
            )
            page.wait_for_timeout(delay_ms)
        if done:
            self.finish(turn, sources)

    def finish(self, turn: Turn, sources: list[dict[str, Any]] | None = None) -> None:
        message = self.chats[turn.chat_id]["chat"]["history"]["messages"][turn.message_id]
        message["done"] = True
        if sources:
            message["sources"] = sources
        data: dict[str, Any] = {"done": True, "content": message["content"]}
        if sources:
            data["sources"] = sources
        self.emit(
            {
                "type": "chat:completion",
                "chat_id": turn.chat_id,
                "message_id": turn.message_id,
                "data": data,
            }
        )

    def interrupt(self, turn: Turn) -> None:
        """What a restarted server does to an answer its dead predecessor left unfinished."""
        message = self.chats[turn.chat_id]["chat"]["history"]["messages"][turn.message_id]
        message.update(done=True, interrupted=True)
        self.emit(
            {
                "type": "chat:completion",
                "chat_id": turn.chat_id,
                "message_id": turn.message_id,
                "data": {"done": True, "content": message["content"], "interrupted": True},
            }
        )

    def wait_turn(self, page: Any, count: int, timeout_ms: int = 10_000) -> Turn:
        deadline = time.monotonic() + timeout_ms / 1000
        while len(self.turns) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the UI started {len(self.turns)} turns, expected {count}")
            page.wait_for_timeout(20)
        return self.turns[count - 1]

    def add_shared(self, owner: str, title: str, messages: list[tuple[str, str]]) -> dict[str, Any]:
        """A snapshot someone else (``owner``) shared: ``messages`` as (role, content), one
        branch; returns it (its ``share_id`` opens it)."""
        history: dict[str, Any] = {"messages": {}, "currentId": None}
        parent = None
        for role, content in messages:
            message_id = _id()
            history["messages"][message_id] = {
                "id": message_id,
                "parentId": parent,
                "childrenIds": [],
                "role": role,
                "content": content,
                "model": "smollm2" if role == "assistant" else None,
                "done": True,
                "timestamp": int(time.time()),
            }
            if parent:
                history["messages"][parent]["childrenIds"].append(message_id)
            parent = message_id
        history["currentId"] = parent
        now = int(time.time())
        snapshot = {
            "id": _id(),
            "user_id": owner,
            "title": title,
            "chat": {"title": title, "models": ["smollm2"], "history": history},
            "created_at": now,
            "updated_at": now,
            "share_id": _id(),
            "pinned": False,
        }
        self.shares[snapshot["share_id"]] = snapshot
        return snapshot

    # -- REST ----------------------------------------------------------------
    def _handle(self, route: Any, request: Any) -> None:
        url = request.url.split("/oui/api/", 1)[1]
        path, _, query = url.partition("?")
        method = request.method
        body: Any = None
        self._last_body = request.post_data_buffer
        if request.post_data and "json" in (request.headers.get("content-type") or ""):
            body = json.loads(request.post_data)
        content = re.fullmatch(r"v1/files/([\w-]+)/content", path)
        if content and content[1] in self.upload_bytes:
            kind, data = self.upload_bytes[content[1]]
            route.fulfill(status=200, content_type=kind, body=data)
            return
        status, payload = self._dispatch(method, path, query, body)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(payload))

    def _dispatch(self, method: str, path: str, query: str, body: Any) -> tuple[int, Any]:
        if path == "models":
            return 200, {"data": self.models}
        if path == "v1/knowledge/":
            return 200, [{"id": "k1", "name": "Papers", "description": "PDFs"}]
        if path == "v1/files/" and method == "POST":
            name = "upload.txt"
            match = re.search(rb'filename="([^"]+)"', self._last_body or b"")
            if match:
                name = match.group(1).decode()
            self.uploads.append(name)
            file_id = _id()
            part = re.search(
                rb"Content-Type: ([\w/.+-]+)\r\n\r\n(.*)\r\n--", self._last_body or b"", re.S
            )
            if part:
                self.upload_bytes[file_id] = (part[1].decode(), part[2])
            return 200, {"id": file_id, "filename": name, "meta": {"name": name}}
        if path in ("v1/chats/", "v1/chats") and method == "GET":
            page = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("page", "1"))
            items = sorted(self.chats.values(), key=lambda c: -c["updated_at"])
            chunk = items[(page - 1) * 50 : page * 50]
            return 200, [self._summary(c) for c in chunk]
        if path == "v1/chats/search":
            return 200, [self._summary(c) for c in self.chats.values()]
        if path == "v1/chats/new":
            chat_id = _id()
            now = int(time.time())
            chat = body["chat"]
            chat.setdefault("history", {"messages": {}, "currentId": None})
            self.chats[chat_id] = {
                "id": chat_id,
                "title": chat.get("title", "New chat"),
                "chat": chat,
                "created_at": now,
                "updated_at": now,
                "pinned": False,
            }
            return 200, self.chats[chat_id]
        shared = self._share_route(method, path)
        if shared is not None:
            return shared
        m = re.fullmatch(r"v1/chats/([0-9a-f]+)(/pin)?", path)
        if m:
            chat = self.chats.get(m.group(1))
            if chat is None:
                return 404, {"message": "Chat not found"}
            if m.group(2):
                chat["pinned"] = not chat["pinned"]
                return 200, chat
            if method == "DELETE":
                del self.chats[chat["id"]]
                return 200, True
            if method == "POST":
                chat["chat"].update(body["chat"])
                if "title" in body["chat"]:
                    chat["title"] = body["chat"]["title"]
                return 200, chat
            return 200, chat
        if path == "chat/completions":
            return self._complete(body)
        m = re.fullmatch(r"tasks/chat/([0-9a-f]+)/stop", path)
        if m:
            self._stop(m.group(1))
            return 200, {"status": True}
        return 404, {"message": f"no fake route for {method} {path}"}

    def _share_route(self, method: str, path: str) -> tuple[int, Any] | None:
        """``v1/chats/{id}/share`` (POST a snapshot, DELETE the link),
        ``v1/chats/share/{share_id}`` and its ``/clone``, as docs/API.md says."""
        m = re.fullmatch(r"v1/chats/share/([\w-]+)(/clone)?", path)
        if m:
            snapshot = self.shares.get(m.group(1))
            if snapshot is None:
                return 404, {"message": f"Shared chat {m.group(1)} not found"}
            if not m.group(2):
                return 200, snapshot
            chat_id = _id()
            now = int(time.time())
            chat = json.loads(json.dumps(snapshot["chat"]))
            chat["title"] = f"Clone of {snapshot['title']}"
            chat["originalChatId"] = snapshot["id"]
            self.chats[chat_id] = {
                "id": chat_id,
                "user_id": "me",
                "title": chat["title"],
                "chat": chat,
                "created_at": now,
                "updated_at": now,
                "pinned": False,
                "share_id": None,
            }
            return 200, self.chats[chat_id]
        m = re.fullmatch(r"v1/chats/([0-9a-f]+)/share", path)
        if not m:
            return None
        chat = self.chats.get(m.group(1))
        if chat is None:
            return 404, {"message": "Chat not found"}
        if method == "DELETE":
            self.shares.pop(chat.get("share_id") or "", None)
            chat["share_id"] = None
            return 200, True
        chat["share_id"] = chat.get("share_id") or _id()
        snapshot = json.loads(json.dumps({**chat, "user_id": "me"}))
        self.shares[chat["share_id"]] = snapshot
        return 200, snapshot

    def _summary(self, chat: dict[str, Any]) -> dict[str, Any]:
        return {k: chat[k] for k in ("id", "title", "updated_at", "created_at", "pinned")}

    def _complete(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.completion_error:
            status, message = self.completion_error
            return status, {"message": message}
        chat = self.chats[body["chat_id"]]
        history = chat["chat"]["history"]
        messages = history["messages"]
        now = int(time.time())
        parent = body.get("parent_id")
        user_id = None
        if body.get("continue"):  # the same answer streams on
            answer = messages[parent]
            answer.update(done=False)
            answer.pop("interrupted", None)
            self.turns.append(Turn(body["chat_id"], parent, None, body))
            return 200, {
                "task_id": _id(),
                "chat_id": body["chat_id"],
                "message_id": parent,
                "user_message_id": answer["parentId"],
            }
        if body.get("regenerate"):
            user_id = parent
        else:
            user_id = _id()
            messages[user_id] = {
                "id": user_id,
                "parentId": parent,
                "childrenIds": [],
                "role": "user",
                "content": _text(body["messages"][-1]["content"]),
                "timestamp": now,
                **({"files": body["files"]} if body.get("files") else {}),
            }
            if parent:
                messages[parent]["childrenIds"].append(user_id)
        answer_id = _id()
        messages[answer_id] = {
            "id": answer_id,
            "parentId": user_id,
            "childrenIds": [],
            "role": "assistant",
            "content": "",
            "model": body["model"],
            "done": False,
            "timestamp": now,
        }
        messages[user_id]["childrenIds"].append(answer_id)
        history["currentId"] = answer_id
        chat["updated_at"] = now
        self.turns.append(
            Turn(body["chat_id"], answer_id, None if body.get("regenerate") else user_id, body)
        )
        return 200, {
            "task_id": _id(),
            "chat_id": body["chat_id"],
            "message_id": answer_id,
            "user_message_id": user_id,
        }

    def _stop(self, chat_id: str) -> None:
        self.stops.append(chat_id)
        for message in (
            self.chats.get(chat_id, {})
            .get("chat", {})
            .get("history", {})
            .get("messages", {})
            .values()
        ):
            message["done"] = True
        self.emit({"type": "chat:tasks:cancel", "chat_id": chat_id, "data": {}})
