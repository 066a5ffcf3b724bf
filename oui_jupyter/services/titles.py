"""Background title and tags for a chat, after its first answer.

Runs as a server task once the answer is saved, so it never delays it; it uses the task model
(default: the chat's model) through the same provider path, and a failure is only logged.
A title the user already set is never replaced.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from oui_jupyter.errors import OuiError
from oui_jupyter.services.chats import ChatService
from oui_jupyter.services.events import EventHub
from oui_jupyter.services.models import ModelService
from oui_jupyter.services.tasks import TaskRegistry
from oui_jupyter.services.users import UserInfo
from oui_jupyter.store.turns import TurnStore

log = logging.getLogger(__name__)

DEFAULT_TITLES = {"", "New Chat"}
TITLE_PROMPT = (
    "Write a short title (3 to 6 words, no quotes, no punctuation at the end) for this "
    "conversation. Answer with the title only.\n\nUser: {user}\nAssistant: {answer}"
)
TAGS_PROMPT = (
    "Give 1 to 3 one-word topic tags for this conversation, comma-separated, lower case. "
    "Answer with the tags only.\n\nUser: {user}\nAssistant: {answer}"
)


def clean_title(text: str, fallback: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(title\s*:\s*)", "", line, flags=re.I).strip(" \"'`*#.")
    if not line:
        words = fallback.split()
        line = " ".join(words[:6]) + ("…" if len(words) > 6 else "")
    return line[:80] or "New Chat"


def clean_tags(text: str) -> list[str]:
    tags: list[str] = []
    for part in re.split(r"[,\n;]", text):
        tag = part.strip().strip("#*-•.\"'` ").lower()
        if (
            tag
            and len(tag) <= 24
            and len(tag.split()) <= 2
            and tag not in tags
            and tag.replace(" ", "").isalnum()
        ):
            tags.append(tag)
    return tags[:3]


class TitleService:
    def __init__(
        self,
        *,
        models: ModelService,
        chats: ChatService,
        turns: TurnStore,
        hub: EventHub,
        registry: TaskRegistry,
        task_model: str = "",
        titles: bool = True,
        tags: bool = True,
    ) -> None:
        self.models = models
        self.chats = chats
        self.turns = turns
        self.hub = hub
        self.registry = registry
        self.task_model = task_model
        self.titles = titles
        self.tags = tags

    def schedule(
        self, user: UserInfo, chat_id: str, model_id: str, user_text: str, answer: str
    ) -> None:
        if self.titles or self.tags:
            self.registry.spawn(self.generate(user, chat_id, model_id, user_text, answer))

    async def _ask(self, user: UserInfo, model_id: str, prompt: str, max_tokens: int) -> str:
        resolved = await self.models.resolve(self.task_model or model_id, user)
        body = {
            "model": resolved.upstream_id,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.2,
        }
        answer: dict[str, Any] = await resolved.provider.complete(body)
        choices = answer.get("choices") or [{}]
        return str(((choices[0] or {}).get("message") or {}).get("content") or "")

    async def generate(
        self, user: UserInfo, chat_id: str, model_id: str, user_text: str, answer: str
    ) -> None:
        values = {"user": user_text[:1000], "answer": answer[:600]}
        if self.titles:
            try:
                text = await self._ask(user, model_id, TITLE_PROMPT.format(**values), 24)
                chat = await asyncio.to_thread(self.turns.chat_head, chat_id, user.id)
                if chat.title in DEFAULT_TITLES:
                    title = clean_title(text, user_text)
                    await asyncio.to_thread(
                        self.chats.store.update_chat, chat_id, user.id, title=title
                    )
                    self.hub.emit(user.id, "chat:title", title, chat_id=chat_id)
            except OuiError as error:
                log.warning("oui: title generation for chat %s failed: %s", chat_id, error.message)
            except Exception:
                log.exception("oui: title generation for chat %s failed", chat_id)
        if self.tags:
            try:
                text = await self._ask(user, model_id, TAGS_PROMPT.format(**values), 16)
                names = clean_tags(text)
                if names:
                    tags = await asyncio.to_thread(self._tag, user, chat_id, names)
                    self.hub.emit(user.id, "chat:tags", tags, chat_id=chat_id)
            except OuiError as error:
                log.warning("oui: tags generation for chat %s failed: %s", chat_id, error.message)
            except Exception:
                log.exception("oui: tags generation for chat %s failed", chat_id)

    def _tag(self, user: UserInfo, chat_id: str, names: list[str]) -> list[str]:
        """Add the tags; the chat's tag names after (database calls: run in a thread)."""
        for name in names:
            self.chats.add_tag(user, chat_id, name)
        return [t.name for t in self.chats.tag_store.chat_tags(chat_id, user.id)]
