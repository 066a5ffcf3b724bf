"""The completion pipeline: one turn, from a request to a saved, streamed answer.

A turn resolves the model (custom models add a system prompt and parameters), merges the
parameters (defaults < model < request), builds the prompt (the request's messages, or the
chat's branch read from the database for ``/message``), asks the context builder for retrieved
context when the turn names files or features, and then:

* with a chat: inserts the user message and an empty assistant message (``done: false``) at
  the start (one INSERT each), streams, checkpoints the text so far into the assistant message
  while it streams (``checkpoints.py``: one UPDATE of that row at most every interval, in a
  thread), and updates it once at the end with the text, usage, sources and
  ``error``/``stopped``: O(1) writes whatever the chat's length;
* relays each upstream chunk to the caller's sink (the HTTP SSE writer) and, for a chat, the
  deltas to the user's sockets (batched by the event hub);
* registers itself in the task registry while it runs: a chat read mid-stream shows the
  partial answer, and ``stop`` cancels it (closing the upstream stream).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, NotFound, ProviderError
from oui_jupyter.services.models import model_params
from oui_jupyter.services.pacing import StartPacer

if TYPE_CHECKING:  # the stores import SQLAlchemy: not at extension load
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.checkpoints import Checkpointer, Checkpoints
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.models import ModelService, ResolvedModel
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.turns import TurnStore

log = logging.getLogger(__name__)

# (query, files, features, user) -> (prompt block that replaces the last user message, sources)
ContextBuilder = Callable[..., Any]
# Called with each upstream chunk (raw JSON bytes, decoded) while the answer streams.
Sink = Callable[[bytes, dict[str, Any]], Awaitable[None]]
UNSET: Any = object()


class ClientGone(Exception):
    """The HTTP client went away mid-stream: the generation stops and is saved as stopped."""


def text_of(content: Any) -> str:
    """A message's text, whether ``content`` is a string or OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("messages must be a non-empty list")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidInput("each message needs a string role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidInput("a message's content must be a string or a list of parts")
    return messages


@dataclass
class TurnOptions:
    """Everything a turn may ask for besides the model and the messages."""

    params: dict[str, Any] = field(default_factory=dict)
    chat_id: str | None = None
    parent_id: Any = UNSET  # UNSET: the chat's current message; None: the root
    regenerate: bool = False
    continue_: bool = False
    files: list[Any] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)


class Generation:
    """One answer being written. ``run`` never raises a ``ProviderError``: it records it."""

    def __init__(
        self,
        service: CompletionService,
        *,
        user: UserInfo,
        model: ResolvedModel,
        body: dict[str, Any],
        chat_id: str | None = None,
        user_message_id: str | None = None,
        message_id: str | None = None,
        prefix: str = "",
        sources: list[dict[str, Any]] | None = None,
        first_turn: bool = False,
        user_text: str = "",
    ) -> None:
        self.service = service
        self.user_id = user.id
        self.user = user
        self.model = model
        self.body = body
        self.chat_id = chat_id
        self.user_message_id = user_message_id
        self.message_id = message_id
        self.prefix = prefix
        self.sources = sources or []
        self.first_turn = first_turn
        self.user_text = user_text
        self.task_id = str(uuid.uuid4())
        self.parts: list[str] = []
        self.length = len(prefix)
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.error: ProviderError | None = None
        self.stopped = False
        self.chunks = 0
        self.created = int(time.time())
        # The usage-only chunk that a persisted turn asks for, kept from a client that did not.
        self.relay_usage_chunk = True
        self._task: asyncio.Task[Any] | None = None
        self._running = False
        self._stop_requested = False
        self._checkpointer: Checkpointer | None = None

    @property
    def persisted(self) -> bool:
        return self.chat_id is not None and self.message_id is not None

    def text(self) -> str:
        if len(self.parts) > 1:  # read every checkpoint: join what came since once
            self.parts[:] = ["".join(self.parts)]
        return self.prefix + "".join(self.parts)

    def partial(self) -> dict[str, Any]:
        return {"content": self.text(), "done": False}

    async def checkpoint(self) -> None:
        """Save the text so far now (a tool step calls this before it runs its tool)."""
        if self._checkpointer is not None:
            await self._checkpointer.save()

    def stop(self) -> None:
        self._stop_requested = True
        if self._running and self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self, sink: Sink | None = None) -> None:
        hub = self.service.hub
        self._task = asyncio.current_task()
        if self._stop_requested:  # stopped before it started
            self.stopped = True
            self._finish()
            return
        self._running = True
        self.service.registry.register(self)
        if self.persisted and self.service.checkpoints is not None:
            self._checkpointer = self.service.checkpoints.start(self)
        stream = self.model.provider.stream(self.body)
        try:
            await self.service.pacer.enter()  # the upstream request: paced like the turn's start
            async for raw, data in stream:
                choices = data.get("choices")
                if choices:
                    choice = choices[0]
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        if self.persisted:
                            hub.delta(self.user_id, self.chat_id, self.message_id, delta, self.length)  # type: ignore[arg-type]
                        self.parts.append(delta)
                        self.length += len(delta)
                    if choice.get("finish_reason"):
                        self.finish_reason = choice["finish_reason"]
                if data.get("usage"):
                    self.usage = data["usage"]
                self.chunks += 1
                if sink is not None and (choices or self.relay_usage_chunk):
                    await sink(raw, data)
                if self._stop_requested:
                    self.stopped = True
                    break
        except asyncio.CancelledError:
            if not self._stop_requested:
                self._finish(interrupted=True)
                raise
            self.stopped = True
            uncancel = getattr(self._task, "uncancel", None)
            if uncancel is not None:
                uncancel()
        except ClientGone:
            self.stopped = True
        except ProviderError as error:
            self.error = error
            log.warning("oui: generation in chat %s failed: %s", self.chat_id, error.message)
        finally:
            self._running = False
            if self._checkpointer is not None:  # whatever ended the stream
                self._checkpointer.stop()
            await stream.aclose()
        self._finish()

    def _finish(self, interrupted: bool = False) -> None:
        service, hub = self.service, self.service.hub
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if interrupted:
            self.stopped = True
        if self.persisted:
            extra: dict[str, Any] = {}
            if self.usage:
                extra["usage"] = self.usage
            if self.sources:
                extra["sources"] = self.sources
            if self.error is not None:
                extra["error"] = {"content": self.error.message}
            if self.stopped:
                extra["stopped"] = True
            try:
                service.turns.finish_message(self.chat_id, self.message_id, self.text(), extra)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - the chat may have been deleted meanwhile
                log.exception("oui: could not save the answer %s of chat %s", self.message_id, self.chat_id)
        service.registry.unregister(self)
        if not self.persisted:
            return
        hub.end_stream(self.user_id, self.chat_id, self.message_id)  # type: ignore[arg-type]
        hub.emit(self.user_id, "chat:completion", self.final_event(), chat_id=self.chat_id,
                 message_id=self.message_id)
        if self.stopped:
            hub.emit(self.user_id, "chat:tasks:cancel", {"message_id": self.message_id}, chat_id=self.chat_id)
        if self.first_turn and self.error is None and not interrupted and service.titles is not None:
            service.titles.schedule(self.user, self.chat_id, self.model.id, self.user_text, self.text())  # type: ignore[arg-type]

    def final_event(self) -> dict[str, Any]:
        data: dict[str, Any] = {"done": True, "content": self.text(), "model": self.model.id}
        if self.usage:
            data["usage"] = self.usage
        if self.sources:
            data["sources"] = self.sources
        if self.error is not None:
            data["error"] = {"content": self.error.message}
        if self.stopped:
            data["stopped"] = True
        return data

    def message(self) -> dict[str, Any]:
        """The assistant message as ``/message`` answers it."""
        data: dict[str, Any] = {
            "id": self.message_id,
            "parentId": self.user_message_id,
            "chat_id": self.chat_id,
            "role": "assistant",
            "content": self.text(),
            "model": self.model.id,
            "done": True,
        }
        if self.usage:
            data["usage"] = self.usage
        if self.sources:
            data["sources"] = self.sources
        if self.error is not None:
            data["error"] = {"content": self.error.message}
        if self.stopped:
            data["stopped"] = True
        return data

    def sources_chunk(self) -> dict[str, Any]:
        """A ``chat.completion.chunk`` with no choices that carries the retrieval sources."""
        return {
            "id": f"chatcmpl-{self.message_id or self.task_id}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model.id,
            "choices": [],
            "sources": self.sources,
        }

    def completion(self) -> dict[str, Any]:
        """The answer as an OpenAI ``chat.completion``."""
        data: dict[str, Any] = {
            "id": f"chatcmpl-{self.message_id or self.task_id}",
            "object": "chat.completion",
            "created": self.created,
            "model": self.model.id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.text()},
                "finish_reason": self.finish_reason or "stop",
            }],
        }
        if self.usage:
            data["usage"] = self.usage
        if self.persisted:
            data["chat_id"] = self.chat_id
            data["message_id"] = self.message_id
            data["user_message_id"] = self.user_message_id
        if self.sources:
            data["sources"] = self.sources
        if self.stopped:
            data["stopped"] = True
        return data


class CompletionService:
    def __init__(
        self,
        *,
        models: ModelService,
        chats: ChatService,
        turns: TurnStore,
        hub: EventHub,
        registry: TaskRegistry,
        default_params: dict[str, Any] | None = None,
        max_history_messages: int = 200,
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self.models = models
        self.chats = chats
        self.turns = turns
        self.hub = hub
        self.registry = registry
        self.default_params = model_params(default_params)
        self.max_history_messages = max(1, max_history_messages)
        self.checkpoints = checkpoints  # None: an answer is written at its end only
        self.context_builder: ContextBuilder | None = None
        self.titles: Any = None  # a TitleService, set by the composition root
        self.pacer = StartPacer()

    # ----- entry points -----
    async def from_openai(self, user: UserInfo, model: str, messages: Any, options: TurnOptions) -> Generation:
        """A turn of ``chat/completions``: the client sends the branch as ``messages``."""
        await self.pacer.enter()
        messages = validate_messages(messages)
        resolved = await self.models.resolve(model, user)
        if options.chat_id is None:
            if options.regenerate or options.continue_:
                raise InvalidInput("regenerate and continue need a chat_id")
            prompt, sources = await self._with_context(user, resolved, list(messages), options, None)
            body = self._body(resolved, prompt, options)
            return Generation(self, user=user, model=resolved, body=body, sources=sources)
        chat = self.turns.chat_head(options.chat_id, user.id)
        parent = chat.current_message_id if options.parent_id is UNSET else options.parent_id
        return await self._persisted_turn(user, resolved, options, parent, list(messages), chat.has_messages)

    async def from_message(
        self, user: UserInfo, chat_id: str, content: str, model: str | None, options: TurnOptions
    ) -> Generation:
        """A turn of ``chats/{id}/message``: the server reads the branch from the database."""
        await self.pacer.enter()
        chat = self.turns.chat_head(chat_id, user.id)
        model = model or next((m for m in chat.models if isinstance(m, str)), None)
        if not model:
            raise InvalidInput("model is required (the chat names none)")
        resolved = await self.models.resolve(model, user)
        parent = options.parent_id if isinstance(options.parent_id, str) else chat.current_message_id
        history: list[dict[str, Any]] = []
        if parent is not None:
            rows = self.turns.branch(chat_id, parent, self.max_history_messages)
            history = [{"role": r["role"], "content": r["content"]} for r in rows]
        options.chat_id = chat_id
        messages = [*history, {"role": "user", "content": content}]
        return await self._persisted_turn(user, resolved, options, parent, messages, chat.has_messages)

    async def complete_direct(self, user: UserInfo, model: str, messages: Any, options: TurnOptions) -> dict[str, Any]:
        """``stream: false`` without a chat: the upstream's answer as is."""
        await self.pacer.enter()
        messages = validate_messages(messages)
        resolved = await self.models.resolve(model, user)
        prompt, sources = await self._with_context(user, resolved, list(messages), options, None)
        answer = await resolved.provider.complete(self._body(resolved, prompt, options))
        if isinstance(answer, dict):
            answer["model"] = resolved.id
            if sources:
                answer["sources"] = sources
        return answer

    def start_live(self, generation: Generation) -> str:
        """Run the generation as a server task; its events go to the user's sockets."""
        self.registry.register(generation)
        return self.registry.spawn(generation.run(), task_id=generation.task_id)

    def stop(self, user: UserInfo, chat_id: str) -> list[str]:
        return self.registry.stop_chat(user.id, chat_id)

    def running(self, user: UserInfo, chat_id: str) -> list[str]:
        return [g.task_id for g in self.registry.running(user.id, chat_id)]

    # ----- the turn -----
    async def _persisted_turn(
        self,
        user: UserInfo,
        resolved: ResolvedModel,
        options: TurnOptions,
        parent: str | None,
        messages: list[dict[str, Any]],
        has_messages: bool,
    ) -> Generation:
        from oui_jupyter.store.chats import NewMessage

        chat_id = options.chat_id
        assert chat_id is not None
        prefix = ""
        to_insert: list[NewMessage] = []
        if options.regenerate or options.continue_:
            if parent is None:
                raise InvalidInput("regenerate and continue need a parent_id")
            row = self.turns.message(chat_id, parent)
            if row is None:
                raise NotFound(f"Message {parent} not found in chat {chat_id}")
        if options.continue_:
            if row.role != "assistant":
                raise InvalidInput("continue needs parent_id = the assistant message to extend")
            user_message_id, message_id, prefix = row.parent_id, row.id, row.content
            user_text = ""
        else:
            if options.regenerate:
                if row.role != "user":
                    raise InvalidInput("regenerate needs parent_id = the user message to answer again")
                user_message_id = row.id
                user_text = row.content
            else:
                last = messages[-1]
                if last.get("role") != "user":
                    raise InvalidInput("the last message must be the user's (or use regenerate/continue)")
                user_text = text_of(last.get("content"))
                user_message_id = str(uuid.uuid4())
                extra: dict[str, Any] = {"models": [resolved.id]}
                if options.files:
                    extra["files"] = options.files
                to_insert.append(NewMessage(id=user_message_id, role="user", content=user_text,
                                            parent_id=parent, extra=extra))
            message_id = str(uuid.uuid4())
            to_insert.append(NewMessage(id=message_id, role="assistant", content="",
                                        parent_id=user_message_id, model=resolved.id, done=False))
        prompt, sources = await self._with_context(user, resolved, messages, options, chat_id)
        body = self._body(resolved, prompt, options)
        asked_usage = "stream_options" in body
        if not asked_usage:  # the saved message records usage when the upstream reports it
            body["stream_options"] = {"include_usage": True}
        if to_insert:
            self.turns.insert_turn(chat_id, to_insert, current_message_id=message_id)
        elif options.continue_:  # being written again: checkpoints apply, a crash marks it
            self.turns.reopen_message(chat_id, message_id)
        generation = Generation(
            self, user=user, model=resolved, body=body, chat_id=chat_id,
            user_message_id=user_message_id, message_id=message_id, prefix=prefix,
            sources=sources, first_turn=not has_messages, user_text=user_text,
        )
        generation.relay_usage_chunk = asked_usage
        start: dict[str, Any] = {"content": prefix, "done": False, "model": resolved.id,
                                 "parentId": user_message_id}
        if sources:
            start["sources"] = sources
        self.hub.emit(user.id, "chat:completion", start, chat_id=chat_id, message_id=message_id)
        return generation

    async def _with_context(
        self, user: UserInfo, resolved: ResolvedModel, messages: list[dict[str, Any]],
        options: TurnOptions, chat_id: str | None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Put retrieved context in place of the last user message (Open WebUI's RAG template)."""
        files = [*options.files, *resolved.knowledge]
        if self.context_builder is None or not (files or any(options.features.values())):
            return messages, []
        last = len(messages) - 1
        while last >= 0 and messages[last].get("role") != "user":
            last -= 1
        if last < 0:
            return messages, []
        query = text_of(messages[last].get("content"))
        if chat_id:
            self.hub.emit(user.id, "status", {"description": "Searching sources", "done": False}, chat_id=chat_id)
        try:
            builder = self.context_builder
            if inspect.iscoroutinefunction(builder):
                block, sources = await builder(query, files, options.features, user)
            else:  # retrieval is blocking: keep it off the event loop
                block, sources = await asyncio.to_thread(
                    builder, query, files, options.features, user
                )
        finally:
            if chat_id:
                self.hub.emit(user.id, "status", {"description": "Searched sources", "done": True}, chat_id=chat_id)
        if block:
            messages = [*messages]
            messages[last] = {**messages[last], "content": block}
        return messages, list(sources or [])

    def _body(self, resolved: ResolvedModel, messages: list[dict[str, Any]], options: TurnOptions) -> dict[str, Any]:
        if resolved.system:
            if messages and messages[0].get("role") == "system":
                first = messages[0]
                messages = [{**first, "content": f"{resolved.system}\n\n{text_of(first.get('content'))}"}, *messages[1:]]
            else:
                messages = [{"role": "system", "content": resolved.system}, *messages]
        upstream = [{"role": m["role"], "content": m.get("content") or "", **_passthrough(m)} for m in messages]
        return {**self.default_params, **resolved.params, **options.params,
                "model": resolved.upstream_id, "messages": upstream}


def _passthrough(message: dict[str, Any]) -> dict[str, Any]:
    """OpenAI message fields other than role/content (name, tool calls)."""
    return {k: message[k] for k in ("name", "tool_calls", "tool_call_id") if k in message}
