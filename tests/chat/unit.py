"""Services built directly over a real database, without HTTP: what the unit tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from oui_jupyter.errors import NotFound
from oui_jupyter.services.chats import ChatService
from oui_jupyter.services.models import ResolvedModel
from oui_jupyter.services.users import UserInfo
from oui_jupyter.store import migrate
from oui_jupyter.store.chats import ChatStore
from oui_jupyter.store.db import Database
from oui_jupyter.store.folders import FolderStore
from oui_jupyter.store.tags import TagStore
from oui_jupyter.store.users import UserStore

ALICE = UserInfo(id="alice", name="alice", display_name="Alice", role="user", groups=())
BOB = UserInfo(id="bob", name="bob", display_name="Bob", role="user", groups=())
ADMIN = UserInfo(id="root", name="root", display_name="Root", role="admin", groups=())


def open_database(url: str) -> Database:
    """A migrated database with the users of these tests."""
    db = Database(url)
    migrate.upgrade(db.engine)
    users = UserStore(db)
    for user in (ALICE, BOB, ADMIN):
        users.upsert(
            user.id, name=user.name, display_name=user.display_name, role=user.role, groups=[]
        )
    return db


def chat_service(db: Database, **kwargs: Any) -> ChatService:
    return ChatService(ChatStore(db), TagStore(db), FolderStore(db), **kwargs)


class FakeProvider:
    """An upstream that streams ``reply`` word by word, and records what it was asked."""

    def __init__(self, reply: str = "Hello there") -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[tuple[bytes, dict[str, Any]]]:
        self.bodies.append(body)
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            delta = word if i == 0 else f" {word}"
            data: dict[str, Any] = {"choices": [{"index": 0, "delta": {"content": delta}}]}
            yield b"{}", data
        yield b"{}", {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply}}],
        }


class FakeModels:
    """The model service as completions see it: one model, ``fake``."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    async def resolve(self, model_id: str, user: UserInfo) -> ResolvedModel:
        if model_id != "fake":
            raise NotFound(f"Model {model_id} not found")
        return ResolvedModel("fake", "fake-upstream", self.provider)  # type: ignore[arg-type]
