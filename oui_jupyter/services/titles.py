"""Background title and tags for a chat, after its first answer.

Runs as a server task once the answer is saved, so it never delays it; it uses the task model
(default: the chat's model) through the same provider path, and a failure is only logged (the
chat is then titled with its prompt cut at a word). A title the user set is never replaced; the
sidebar's placeholder (the prompt's beginning) is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from oui_jupyter.errors import OuiError
from oui_jupyter.services.chats import ChatService
from oui_jupyter.services.events import EventHub
from oui_jupyter.services.models import ModelService
from oui_jupyter.services.tasks import TaskRegistry
from oui_jupyter.services.title_text import (
    clean_tags,
    clean_title,
    fallback_title,
    has_topic,
    is_placeholder,
    tags_messages,
    title_messages,
)
from oui_jupyter.services.users import UserInfo
from oui_jupyter.store.turns import TurnStore

log = logging.getLogger(__name__)

DEFAULT_TITLES = {"", "New Chat"}
TITLE_TOKENS = 20
TAGS_TOKENS = 16


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

    async def _ask(
        self, user: UserInfo, model_id: str, messages: list[dict[str, str]], max_tokens: int
    ) -> tuple[str, bool]:
        """The model's answer, and whether it was cut at ``max_tokens``."""
        resolved = await self.models.resolve(self.task_model or model_id, user)
        body = {
            "model": resolved.upstream_id,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        answer: dict[str, Any] = await resolved.provider.complete(body)
        choice = (answer.get("choices") or [{}])[0] or {}
        text = str((choice.get("message") or {}).get("content") or "")
        return text, choice.get("finish_reason") == "length"

    async def generate(
        self, user: UserInfo, chat_id: str, model_id: str, user_text: str, answer: str
    ) -> None:
        if self.titles:
            await self._title(user, chat_id, model_id, user_text)
        if self.tags and has_topic(user_text):
            await self._tags(user, chat_id, model_id, user_text, answer)

    async def _title(self, user: UserInfo, chat_id: str, model_id: str, user_text: str) -> None:
        """A generated title, else the prompt cut at a word, unless the chat has its own."""
        title = None
        try:
            text, cut = await self._ask(user, model_id, title_messages(user_text), TITLE_TOKENS)
            title = clean_title(text, user_text, cut_short=cut)
            if title is None:
                log.info("oui: no title in the task model's answer %r", text[:200])
        except OuiError as error:
            log.warning("oui: title generation for chat %s failed: %s", chat_id, error.message)
        except Exception:
            log.exception("oui: title generation for chat %s failed", chat_id)
        title = title or fallback_title(user_text)
        try:
            chat = await asyncio.to_thread(self.turns.chat_head, chat_id, user.id)
            if chat.title == title or not (
                chat.title in DEFAULT_TITLES or is_placeholder(chat.title, user_text)
            ):
                return
            await asyncio.to_thread(self.chats.store.update_chat, chat_id, user.id, title=title)
            self.hub.emit(user.id, "chat:title", title, chat_id=chat_id)
        except OuiError as error:
            log.warning("oui: could not title chat %s: %s", chat_id, error.message)
        except Exception:
            log.exception("oui: could not title chat %s", chat_id)

    async def _tags(
        self, user: UserInfo, chat_id: str, model_id: str, user_text: str, answer: str
    ) -> None:
        try:
            text, cut = await self._ask(user, model_id, tags_messages(user_text), TAGS_TOKENS)
            names = clean_tags(text, user_text, answer, cut_short=cut)
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
