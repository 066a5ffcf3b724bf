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
  partial answer, and ``stop`` cancels it (closing the upstream stream);
* holds the generation activity from its start to its end (``activity.py``: the workspace
  index's embedding yields to it) and says what it does until its first token
  (``turn_status.py``: searching, starting the local model, reading the sources).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import Conflict, InvalidInput, NotFound, NotReady, OuiError, ProviderError
from oui_jupyter.services import turn_status
from oui_jupyter.services.activity import GenerationActivity, Hold
from oui_jupyter.services.message_text import text_of
from oui_jupyter.services.models import model_params
from oui_jupyter.services.pacing import StartPacer
from oui_jupyter.services.turn_status import StatusSink, TurnStatus
from oui_jupyter.services.vision import (
    SavedImages,
    file_url,
    is_image_item,
    row_content,
    with_text,
)

if TYPE_CHECKING:  # the stores import SQLAlchemy: not at extension load
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.checkpoints import Checkpointer, Checkpoints
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.images import ImageService
    from oui_jupyter.services.memories import MemoryService
    from oui_jupyter.services.models import ModelService, ResolvedModel
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.services.titles import TitleService
    from oui_jupyter.services.tool_loop import Mode, ToolLoop, ToolPlan, ToolSettings
    from oui_jupyter.services.usage import UsageService
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.services.vision import VisionService
    from oui_jupyter.store.chats import NewMessage
    from oui_jupyter.store.turns import TurnStore
    from oui_jupyter.tools.channel import TurnTools

log = logging.getLogger(__name__)

# (query, files, features, user[, workspace sources][, budget=chars]) -> (prompt block that
# replaces the last user message, sources[, note]); the fifth argument is only passed when a
# turn has workspace_context, ``budget`` only for the embedded model; the note (e.g. no
# workspace file matched) ends the turn's search status.
ContextBuilder = Callable[..., Any]
# Called with each upstream chunk (raw JSON bytes, decoded) while the answer streams.
Sink = Callable[[bytes, dict[str, Any]], Awaitable[None]]
UNSET: Any = object()
# Open WebUI's feature flag: the turn's answer is images generated from the user's prompt.
IMAGE_FEATURE = "image_generation"


def runs_locally(model: ResolvedModel) -> bool:
    """The model is the embedded one, served by this server's llama.cpp process."""
    return bool(getattr(getattr(model.provider, "connection", None), "local", False))


class ClientGone(Exception):
    """The HTTP client went away mid-stream: the generation stops and is saved as stopped."""


# Keys of Open WebUI's user_message that are columns or derived; the rest is kept as extra.
_USER_MESSAGE_CORE = {
    "id",
    "parentId",
    "childrenIds",
    "role",
    "content",
    "timestamp",
    "done",
    "model",
}


def validate_messages(messages: Any, allow_empty: bool = False) -> list[dict[str, Any]]:
    """``allow_empty``: a persisted turn may leave the branch to the server."""
    if not isinstance(messages, list) or not (messages or allow_empty):
        raise InvalidInput("messages must be a non-empty list")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidInput("each message needs a string role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidInput("a message's content must be a string or a list of parts")
    return messages


def named_user_message(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """Open WebUI's ``user_message`` (schema-checked by the handler), or None."""
    if raw is None:
        return None
    if raw.get("role", "user") != "user":
        raise InvalidInput("user_message.role must be 'user'")
    return raw


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
    # Ids the client chose (Open WebUI's frontend names its messages): the answer's, and the
    # new user message (its ``id``, and for chat/completions its content, parentId, files...).
    message_id: str | None = None
    user_message: dict[str, Any] | None = None
    # chat/completions: a named user message already in the chat is answered again, a named
    # stored empty unfinished assistant message is filled in (Open WebUI's own rules).
    reuse_named: bool = False
    new_chat: bool = False  # no chat_id: make the chat first (Open WebUI's first turn)
    folder_id: str | None = None
    title: bool = True  # a first turn may schedule a title (background_tasks.title_generation)
    # A team client server's workspace hits (``workspace_context.sources``, checked): merged
    # into the turn's one RAG block (services/workspace_context.py).
    workspace_sources: list[dict[str, Any]] = field(default_factory=list)
    # The SSE stream's writer of status chunks (None: the turn's statuses go to sockets only).
    status_sink: StatusSink | None = None
    # Kept on the answer's message and told in its start event (an arena answer's mark).
    answer_extra: dict[str, Any] = field(default_factory=dict)
    # The server's tools the model is offered (services/tool_loop.py), the notebook the chat
    # is about (relative to root_dir) and params.function_calling ("native" | "default").
    tool_ids: list[str] = field(default_factory=list)
    notebook_path: str | None = None
    function_calling: str | None = None
    tool_plan: ToolPlan | None = None  # tool_ids checked (set by the service)
    # The turn's tools when a team client server brought its own (``client_tools``): the
    # tool loop looks tools up and runs them here (``get``/``run``), not on the registry.
    turn_tools: TurnTools | None = None


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
        status: TurnStatus | None = None,
        image_prompt: str | None = None,
        tools: ToolPlan | None = None,
    ) -> None:
        """``image_prompt``: the answer is images generated from it (the image service);
        ``tools``: the server runs the tool calls of the model (``services/tool_loop.py``)."""
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
        self.image_prompt = image_prompt
        self.files: list[dict[str, Any]] = []  # the generated images (Open WebUI's file items)
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
        self.status = status or TurnStatus(None, user.id, model=model.id)
        self.hold: Hold | None = None
        # The records of the server's tool calls; a client's own tools' calls (pass-through).
        self.tool_calls: list[dict[str, Any]] = []
        self.client_tool_calls: list[dict[str, Any]] = []
        self.tools: ToolLoop | None = None
        if tools is not None:
            from oui_jupyter.services.tool_loop import ToolLoop

            self.tools = ToolLoop(tools, self)

    def take_hold(self, hold: Hold) -> None:
        """The turn's activity hold is released when this answer ends (or is dropped unrun)."""
        self.hold = hold
        weakref.finalize(self, hold.release)

    @property
    def persisted(self) -> bool:
        return self.chat_id is not None and self.message_id is not None

    def text(self) -> str:
        if len(self.parts) > 1:  # read every checkpoint: join what came since once
            self.parts[:] = ["".join(self.parts)]
        return self.prefix + "".join(self.parts)

    def partial(self) -> dict[str, Any]:
        data: dict[str, Any] = {"content": self.text(), "done": False}
        if self.tool_calls:
            data["tool_calls"] = [dict(r) for r in self.tool_calls]
        return data

    async def checkpoint(self) -> None:
        """Save the text so far now (a tool step calls this before it runs its tool)."""
        if self._checkpointer is not None:
            await self._checkpointer.save()

    def stop(self) -> None:
        self._stop_requested = True
        if self._running and self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self, sink: Sink | None = None) -> None:
        self._task = asyncio.current_task()
        if self._stop_requested:  # stopped before it started
            self.stopped = True
            self._finish()
            return
        self._running = True
        self.service.registry.register(self)
        if self.image_prompt is not None:
            await self._run_images(sink)
            self._finish()
            return
        if self.persisted and self.service.checkpoints is not None:
            self._checkpointer = self.service.checkpoints.start(self)
        try:
            await self.service.pacer.enter()  # the upstream request: paced like the turn's start
            await self._start_model()
            body = self.body
            while True:  # one request, then one more per round of the server's tool calls
                calls = await self._stream(body, sink)
                if self.tools is None or not calls or self.stopped or not self.tools.offering:
                    break  # an answer; or calls after the last round, which offered no tools
                body = await self.tools.step(body, calls)
        except asyncio.CancelledError:
            if not self._stop_requested:
                self._finish(interrupted=True)
                raise
            self._stopped_by_request()
        except ClientGone:
            self.stopped = True
        except ProviderError as error:
            self.error = error
            log.warning("oui: generation in chat %s failed: %s", self.chat_id, error.message)
        finally:
            self._running = False
            if self._checkpointer is not None:  # whatever ended the stream
                self._checkpointer.stop()
        self._finish()

    async def _stream(self, body: dict[str, Any], sink: Sink | None) -> list[dict[str, Any]]:
        """One upstream request, streamed; the tool calls it ended with (the server's to run,
        or a client's own, relayed as they came)."""
        from oui_jupyter.services.tool_loop import may_be_call, merge_call_deltas

        tools = self.tools
        native = tools is not None and tools.native
        held: list[str] | None = [] if tools is not None and tools.holds_text else None
        calls: dict[int, dict[str, Any]] = {}
        stream = self.model.provider.stream(body)
        try:
            async for raw, data in stream:
                choices = data.get("choices")
                relay = True
                if choices:
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    if delta.get("tool_calls"):
                        merge_call_deltas(calls, delta["tool_calls"])
                        relay = not native  # the server runs them: the client sees the answer
                    text = delta.get("content")
                    if text and held is not None:
                        held.append(text)
                        if not may_be_call("".join(held)):  # an answer, not a call: stream it
                            text, held = "".join(held), None
                            await self._relay_text(text, sink)
                            relay = False
                    elif text:
                        self._add_text(text)
                    reason = choice.get("finish_reason")
                    if reason and not (native and reason == "tool_calls"):
                        self.finish_reason = reason
                    elif reason:
                        relay = False
                    if held is not None:
                        relay = False
                if data.get("usage"):
                    self._add_usage(data["usage"])
                self.chunks += 1
                if sink is not None and relay and (choices or self.relay_usage_chunk):
                    await sink(raw, data)
                if self._stop_requested:
                    self.stopped = True
                    return []
        finally:
            await stream.aclose()
        if held is not None and tools is not None:  # a prompted round: a call, or the answer
            text = "".join(held)
            call = tools.parse(text)
            if call is not None:
                return [call]
            if text:
                await self._relay_text(text, sink)
        found = [calls[i] for i in sorted(calls) if calls[i]["name"]]
        if tools is None:
            self.client_tool_calls = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in found
            ]
        return found

    def _add_text(self, delta: str) -> None:
        self.status.finish()
        if self.persisted:
            assert self.chat_id is not None and self.message_id is not None
            self.service.hub.delta(self.user_id, self.chat_id, self.message_id, delta, self.length)
        self.parts.append(delta)
        self.length += len(delta)

    async def _relay_text(self, text: str, sink: Sink | None) -> None:
        """Text held back (a prompted round that might have been a call): told at once."""
        self._add_text(text)
        if sink is not None:
            chunk = {
                "id": f"chatcmpl-{self.message_id or self.task_id}",
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model.id,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            await sink(_encode_json(chunk), chunk)

    def _add_usage(self, usage: Any) -> None:
        """A tool turn's usage is the sum of its requests'."""
        if self.usage and self.tools is not None and isinstance(usage, dict):
            keys = ("prompt_tokens", "completion_tokens", "total_tokens")
            usage = {
                **usage,
                **{
                    k: (self.usage.get(k) or 0) + (usage.get(k) or 0)
                    for k in keys
                    if isinstance(usage.get(k), int)
                },
            }
        self.usage = usage

    async def _start_model(self) -> None:
        """The embedded model's server starts on first use: say so while it does."""
        local = getattr(self.service.models, "local", None)
        provider = self.model.provider
        if local is None or not runs_locally(self.model) or local.running:
            return
        before = self.status.last
        self.status.say(turn_status.STARTING_LOCAL_MODEL)
        try:
            await provider.client()
        except Exception as exc:
            from oui_jupyter.providers.openai_compat import map_error

            raise map_error(exc, provider.label) from None
        if before is not None and before != turn_status.NO_SOURCES:
            self.status.say(before)  # the model now reads the prompt (and its sources)

    def _stopped_by_request(self) -> None:
        """The cancel Stop asked for: the turn ends as stopped and its task goes on to save it."""
        self.stopped = True
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is not None:
            uncancel()

    async def _run_images(self, sink: Sink | None) -> None:
        """The answer of an image turn: the generated images as files, the prompt as text."""
        images, prompt = self.service.images, self.image_prompt or ""
        try:
            if images is None:
                raise NotReady("Image generation is off", reason="images_off")
            saved = await images.generate(self.user, prompt)
            self.files = [
                {"type": "image", "id": f["id"], "url": file_url(f["id"]), "name": f["filename"]}
                for f in saved
            ]
            self.parts.append(prompt)
            if self.persisted:
                assert self.chat_id is not None and self.message_id is not None
                self.service.hub.delta(self.user_id, self.chat_id, self.message_id, prompt, 0)
            self.length += len(prompt)
            self.finish_reason = "stop"
            if sink is not None:
                chunk = {
                    "id": f"chatcmpl-{self.message_id or self.task_id}",
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model.id,
                    "choices": [
                        {"index": 0, "delta": {"content": prompt}, "finish_reason": "stop"}
                    ],
                    "files": self.files,
                }
                await sink(_encode_json(chunk), chunk)
        except asyncio.CancelledError:
            if not self._stop_requested:
                self._running = False
                self._finish(interrupted=True)
                raise
            self._stopped_by_request()
        except ClientGone:
            self.stopped = True
        except OuiError as error:
            self.error = (
                error
                if isinstance(error, ProviderError)
                else ProviderError(error.message, reason=error.reason)
            )
            log.warning("oui: image turn in chat %s failed: %s", self.chat_id, error.message)
        finally:
            self._running = False

    def _finish(self, interrupted: bool = False) -> None:
        service, hub = self.service, self.service.hub
        self.status.finish()
        if self.hold is not None:
            self.hold.release()
        if service.usage is not None and (self.chunks or self.usage):  # the upstream answered
            service.usage.record_turn(
                user_id=self.user_id,
                model=self.model.id,
                chat_id=self.chat_id,
                usage=self.usage,
                prompt=self.body.get("messages") or [],
                completion=self.text()[len(self.prefix) :],
            )
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
            if self.files:
                extra["files"] = self.files
            if self.tool_calls:
                extra["tool_calls"] = self.tool_calls
            if self.error is not None:
                extra["error"] = {"content": self.error.message}
            if self.stopped:
                extra["stopped"] = True
            try:
                service.turns.finish_message(self.chat_id, self.message_id, self.text(), extra)  # type: ignore[arg-type]
            except Exception:
                log.exception(
                    "oui: could not save the answer %s of chat %s", self.message_id, self.chat_id
                )
        service.registry.unregister(self)
        if not self.persisted:
            return
        hub.end_stream(self.user_id, self.chat_id, self.message_id)  # type: ignore[arg-type]
        hub.emit(
            self.user_id,
            "chat:completion",
            self.final_event(),
            chat_id=self.chat_id,
            message_id=self.message_id,
        )
        if self.stopped:
            hub.emit(
                self.user_id,
                "chat:tasks:cancel",
                {"message_id": self.message_id},
                chat_id=self.chat_id,
            )
        if (
            self.first_turn
            and self.error is None
            and not interrupted
            and service.titles is not None
        ):
            service.titles.schedule(
                self.user,
                self.chat_id,  # type: ignore[arg-type]
                self.model.id,
                self.user_text,
                self.text(),
            )

    def final_event(self) -> dict[str, Any]:
        data: dict[str, Any] = {"done": True, "content": self.text(), "model": self.model.id}
        if self.usage:
            data["usage"] = self.usage
        if self.files:
            data["files"] = self.files
        if self.sources:
            data["sources"] = self.sources
        if self.tool_calls:
            data["tool_calls"] = self.tool_calls
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
        if self.files:
            data["files"] = self.files
        if self.sources:
            data["sources"] = self.sources
        if self.tool_calls:
            data["tool_calls"] = self.tool_calls
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
        message: dict[str, Any] = {"role": "assistant", "content": self.text()}
        if self.client_tool_calls:  # a client's own tools: their calls are the client's to run
            message["tool_calls"] = self.client_tool_calls
        data: dict[str, Any] = {
            "id": f"chatcmpl-{self.message_id or self.task_id}",
            "object": "chat.completion",
            "created": self.created,
            "model": self.model.id,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason or "stop",
                }
            ],
        }
        if self.usage:
            data["usage"] = self.usage
        if self.files:
            data["files"] = self.files
        if self.persisted:
            data["chat_id"] = self.chat_id
            data["message_id"] = self.message_id
            data["user_message_id"] = self.user_message_id
        if self.sources:
            data["sources"] = self.sources
        if self.tool_calls:
            data["tool_calls"] = self.tool_calls
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
        titles: TitleService | None = None,
        context_builder: ContextBuilder | None = None,
        usage: UsageService | None = None,
        vision: VisionService | None = None,
        activity: GenerationActivity | None = None,
        images: ImageService | None = None,
        local_context_chars: int | None = None,
    ) -> None:
        """``titles``: writes a first turn's title and tags (None: no titles);
        ``context_builder``: retrieval for turns that name files or features (None: none);
        ``usage``: records each turn's tokens and enforces the daily limits (None: neither);
        ``vision``: saves and inlines the images of turns (None: parts go as they came);
        ``activity``: counts the running turns (background indexing yields to them);
        ``images``: answers the turns that ask for ``image_generation`` (None: refused);
        ``local_context_chars``: the most source text a turn of the embedded model reads
        (None: the retrieval's own budget)."""
        self.models = models
        self.chats = chats
        self.turns = turns
        self.hub = hub
        self.registry = registry
        self.default_params = model_params(default_params)
        self.max_history_messages = max(1, max_history_messages)
        self.checkpoints = checkpoints  # None: an answer is written at its end only
        self.context_builder = context_builder
        self.titles = titles
        self.usage = usage
        self.vision = vision
        self.activity = activity or GenerationActivity()
        self.images = images
        self.local_context_chars = local_context_chars
        self.memories: MemoryService | None = None  # set by app.py: memories (issue 12)
        self.pacer = StartPacer()
        self.tools: ToolSettings | None = None  # the server's tools (None: tool_ids refused)

    async def _tool_plan(
        self, user: UserInfo, resolved: ResolvedModel, options: TurnOptions
    ) -> None:
        """Check a turn's ``tool_ids`` before anything is written (404 for one the user may
        not use) and choose how the model calls them: request > model params > connection
        (the embedded model: prompt-based, ``default``; the others ``native``)."""
        if not options.tool_ids or options.tool_plan is not None:
            return
        if self.tools is None:
            raise NotFound(f"tool {options.tool_ids[0]} not found")
        wanted = (
            options.function_calling
            or options.params.get("function_calling")
            or resolved.params.get("function_calling")
        )
        if wanted not in ("native", "default"):
            connection = getattr(resolved.provider, "connection", None)
            wanted = "default" if getattr(connection, "local", False) else "native"
        mode: Mode = "default" if wanted == "default" else "native"
        # MCP servers' tools join the registry once their servers are heard: a turn right
        # after startup must wait for that as the tool list does, or it 404s on them
        await self.tools.registry.ready()
        options.tool_plan = await asyncio.to_thread(
            self.tools.plan,
            user,
            list(options.tool_ids),
            mode,
            options.notebook_path,
            options.turn_tools,
        )

    def _history(self, rows: list[dict[str, Any]], options: TurnOptions) -> list[dict[str, Any]]:
        """Stored messages as prompt messages (an answer's tool calls re-sent, tool_loop.replay)."""
        from oui_jupyter.services.tool_loop import replay

        plan = options.tool_plan
        return list(replay(rows, plan is not None and plan.native, row_content))

    async def _admit(self, user: UserInfo) -> None:
        """Before a turn starts: ``RateLimited`` (429) past the user's daily token limit."""
        if self.usage is not None:
            await self.usage.check(user)

    # ----- entry points -----
    async def from_openai(
        self, user: UserInfo, model: str, messages: Any, options: TurnOptions
    ) -> Generation:
        """A turn of ``chat/completions``: the client sends the branch as ``messages``."""
        return await self._held(self._from_openai(user, model, messages, options))

    async def _held(self, turn: Awaitable[Generation]) -> Generation:
        """The turn holds the activity from now until its answer ends."""
        hold = self.activity.hold()
        try:
            generation = await turn
        except BaseException:
            hold.release()
            raise
        generation.take_hold(hold)
        return generation

    async def _from_openai(
        self, user: UserInfo, model: str, messages: Any, options: TurnOptions
    ) -> Generation:
        await self._admit(user)
        await self.pacer.enter()
        persisted = options.chat_id is not None or options.new_chat
        # A persisted turn that names its user message (or answers a stored one again) may
        # leave the branch to the server: then ``messages`` is empty or only system messages.
        messages = validate_messages(messages, allow_empty=persisted)
        resolved = await self.models.resolve(model, user)
        self._check_images(resolved, messages, options)
        await self._tool_plan(user, resolved, options)
        if not persisted:
            if options.regenerate or options.continue_:
                raise InvalidInput("regenerate and continue need a chat_id")
            status = TurnStatus(None, user.id, model=resolved.id, sink=options.status_sink)
            prompt, sources = await self._with_context(
                user, resolved, list(messages), options, status
            )
            prompt = await self._inline(user, resolved, prompt, None)
            body = self._body(resolved, prompt, options)
            asked_usage = "stream_options" in body
            if not asked_usage and self.usage is not None:  # the usage record's tokens
                body["stream_options"] = {"include_usage": True}
            generation = Generation(
                self,
                user=user,
                model=resolved,
                body=body,
                sources=sources,
                status=status,
                tools=options.tool_plan,
            )
            generation.relay_usage_chunk = asked_usage or self.usage is None
            return generation
        named = named_user_message(options.user_message)
        if options.new_chat:
            created = self.chats.create(
                user, {"title": "New Chat", "models": [resolved.id]}, folder_id=options.folder_id
            )
            options.chat_id = created.id
        chat = self.turns.chat_head(options.chat_id, user.id)  # type: ignore[arg-type]
        if named is not None and "parentId" in named:
            parent = named["parentId"]
        else:
            parent = chat.current_message_id if options.parent_id is UNSET else options.parent_id
        return await self._persisted_turn(
            user, resolved, options, parent, list(messages), chat.has_messages
        )

    async def from_openai_many(
        self, user: UserInfo, answers: list[tuple[str, str]], messages: Any, options: TurnOptions
    ) -> list[Generation]:
        """Open WebUI's turn with several models: one user message, one answer for each
        ``(model, message id)``, siblings under it. Every model is resolved before anything is
        written."""
        if len({mid for _, mid in answers}) < len(answers):
            raise Conflict("message_ids name one message id twice")
        for model, _ in answers:
            await self.models.resolve(model, user)
        generations: list[Generation] = []
        for model, message_id in answers:
            turn = replace(options, message_id=message_id)
            if generations:  # the user message is stored now: the next answers hang under it
                turn.chat_id, turn.new_chat = generations[0].chat_id, False
            generations.append(await self.from_openai(user, model, messages, turn))
        return generations

    async def from_message(
        self, user: UserInfo, chat_id: str, content: Any, model: str | None, options: TurnOptions
    ) -> Generation:
        """A turn of ``chats/{id}/message``: the server reads the branch from the database."""
        return await self._held(self._from_message(user, chat_id, content, model, options))

    async def _from_message(
        self, user: UserInfo, chat_id: str, content: Any, model: str | None, options: TurnOptions
    ) -> Generation:
        await self._admit(user)
        await self.pacer.enter()
        chat = self.turns.chat_head(chat_id, user.id)
        model = model or next((m for m in chat.models if isinstance(m, str)), None)
        if not model:
            raise InvalidInput("model is required (the chat names none)")
        resolved = await self.models.resolve(model, user)
        await self._tool_plan(user, resolved, options)
        parent = (
            options.parent_id if isinstance(options.parent_id, str) else chat.current_message_id
        )
        history: list[dict[str, Any]] = []
        if parent is not None:
            rows = self.turns.branch(chat_id, parent, self.max_history_messages)
            history = self._history(rows, options)
        options.chat_id = chat_id
        if options.user_message is not None:
            options.user_message = {**options.user_message, "content": content}
        messages = [*history, {"role": "user", "content": content}]
        return await self._persisted_turn(
            user, resolved, options, parent, messages, chat.has_messages
        )

    async def complete_direct(
        self, user: UserInfo, model: str, messages: Any, options: TurnOptions
    ) -> dict[str, Any]:
        """``stream: false`` without a chat: the upstream's answer as is."""
        if options.regenerate or options.continue_:
            raise InvalidInput("regenerate and continue need a chat_id")
        if options.tool_ids:  # the server's tools: the loop runs as in a streamed turn
            generation = await self.from_openai(user, model, messages, options)
            await generation.run()
            if generation.error is not None:
                raise generation.error
            return generation.completion()
        hold = self.activity.hold()
        try:
            return await self._complete_direct(user, model, messages, options)
        finally:
            hold.release()

    async def _complete_direct(
        self, user: UserInfo, model: str, messages: Any, options: TurnOptions
    ) -> dict[str, Any]:
        await self._admit(user)
        await self.pacer.enter()
        messages = validate_messages(messages)
        resolved = await self.models.resolve(model, user)
        self._check_images(resolved, messages, options)
        prompt, sources = await self._with_context(
            user, resolved, list(messages), options, TurnStatus(None, user.id, model=resolved.id)
        )
        prompt = await self._inline(user, resolved, prompt, None)
        body = self._body(resolved, prompt, options)
        answer = await resolved.provider.complete(body)
        if self.usage is not None:
            self.usage.record_turn(
                user_id=user.id,
                model=resolved.id,
                chat_id=None,
                usage=answer.get("usage") if isinstance(answer, dict) else None,
                prompt=body["messages"],
                completion=_answer_text(answer),
            )
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
        image_turn = bool(options.features.get(IMAGE_FEATURE))
        if image_turn:
            await self._check_image_generation(options)
        named = named_user_message(options.user_message)
        placeholder, parent = self._named_ids(user.id, chat_id, options, named, parent)
        if placeholder is not None or options.regenerate:
            named = None  # the user message is stored already
        # The client sent the branch, or (Open WebUI) only system messages: then it is read here.
        client_branch = any(m.get("role") != "system" for m in messages)
        tail: list[dict[str, Any]] = []  # what follows the stored branch in the prompt
        prefix = ""
        first_turn = not has_messages
        to_insert: list[NewMessage] = []
        saved: SavedImages | None = None
        if placeholder is not None:  # a stored empty answer (Open WebUI made the turn itself)
            message_id, user_message_id = placeholder
            user_row = self.turns.message(chat_id, user_message_id) if user_message_id else None
            user_text = user_row.content if user_row is not None else ""
            first_turn = user_row is not None and user_row.parent_id is None
            leaf = user_message_id
        elif options.regenerate or options.continue_:
            if parent is None:
                raise InvalidInput("regenerate and continue need a parent_id")
            row = self.turns.message(chat_id, parent)
            if row is None:
                raise NotFound(f"Message {parent} not found in chat {chat_id}")
            leaf = row.id
            if options.continue_:
                if row.role != "assistant":
                    raise InvalidInput("continue needs parent_id = the assistant message to extend")
                user_message_id, message_id, prefix = row.parent_id, row.id, row.content
                user_text = ""
            else:
                if row.role != "user":
                    raise InvalidInput(
                        "regenerate needs parent_id = the user message to answer again"
                    )
                user_message_id, user_text = row.id, row.content
                message_id = options.message_id or str(uuid.uuid4())
                to_insert.append(
                    _empty_answer(message_id, user_message_id, resolved.id, options.answer_extra)
                )
        else:
            if named is not None:
                content = named.get("content") or ""
            elif client_branch and messages[-1].get("role") == "user":
                content = messages[-1].get("content")
            else:
                raise InvalidInput(
                    "the last message must be the user's (or use regenerate/continue)"
                )
            user_text = text_of(content)
            user_message_id = named["id"] if named is not None else str(uuid.uuid4())
            extra: dict[str, Any] = {
                **{k: v for k, v in (named or {}).items() if k not in _USER_MESSAGE_CORE},
                "models": (named or {}).get("models") or [resolved.id],
            }
            if self.vision is not None:
                items = (named or {}).get("files") or options.files
                saved = await self.vision.save_new(user, resolved, content, list(items))
            if saved is not None:
                content, extra["files"] = saved.content, saved.files
                if client_branch and messages[-1].get("role") == "user":
                    messages = [*messages[:-1], {**messages[-1], "content": content}]
            elif options.files and not extra.get("files"):
                extra["files"] = options.files
            message_id = options.message_id or str(uuid.uuid4())
            to_insert.append(
                NewMessage(
                    id=user_message_id,
                    role="user",
                    content=user_text,
                    parent_id=parent,
                    extra=extra,
                )
            )
            to_insert.append(
                _empty_answer(message_id, user_message_id, resolved.id, options.answer_extra)
            )
            tail.append({"role": "user", "content": content})
            leaf = parent
        if not client_branch:
            rows = (
                [] if leaf is None else self.turns.branch(chat_id, leaf, self.max_history_messages)
            )
            messages = [*messages, *self._history(rows, options), *tail]
        status = TurnStatus(
            self.hub,
            user.id,
            model=resolved.id,
            chat_id=chat_id,
            message_id=message_id,
            sink=options.status_sink,
        )
        prompt: list[dict[str, Any]] = []
        sources: list[dict[str, Any]] = []
        if not image_turn:  # an image turn asks no text model: its answer is the images
            prompt, sources = await self._with_context(user, resolved, messages, options, status)
            prompt = await self._inline(user, resolved, prompt, saved)
        body = self._body(resolved, prompt, options)
        asked_usage = "stream_options" in body
        if not asked_usage:  # the saved message records usage when the upstream reports it
            body["stream_options"] = {"include_usage": True}
        if to_insert or placeholder is not None:
            self.turns.insert_turn(chat_id, to_insert, current_message_id=message_id)
        elif options.continue_:  # being written again: checkpoints apply, a crash marks it
            self.turns.reopen_message(chat_id, message_id)
        generation = Generation(
            self,
            user=user,
            model=resolved,
            body=body,
            chat_id=chat_id,
            user_message_id=user_message_id,
            message_id=message_id,
            prefix=prefix,
            sources=sources,
            first_turn=first_turn and options.title,
            user_text=user_text,
            status=status,
            image_prompt=user_text if image_turn else None,
            tools=None if image_turn else options.tool_plan,
        )
        generation.relay_usage_chunk = asked_usage
        start: dict[str, Any] = {
            "content": prefix,
            "done": False,
            "model": resolved.id,
            "parentId": user_message_id,
            **options.answer_extra,
        }
        if sources:
            start["sources"] = sources
        self.hub.emit(user.id, "chat:completion", start, chat_id=chat_id, message_id=message_id)
        return generation

    async def _check_image_generation(self, options: TurnOptions) -> None:
        """An image turn: ``NotReady`` (503, what to configure) before anything is written."""
        if options.continue_:
            raise InvalidInput("an image turn cannot continue an answer")
        if self.images is None:
            raise NotReady("Image generation is not available on this server", reason="images_off")
        await asyncio.to_thread(self.images.target)

    def _named_ids(
        self,
        user_id: str,
        chat_id: str,
        options: TurnOptions,
        named: dict[str, Any] | None,
        parent: str | None,
    ) -> tuple[tuple[str, str | None] | None, str | None]:
        """Check the ids a turn names against its chat: each must be unused (else ``Conflict``),
        except, for Open WebUI (``reuse_named``), a stored user message named as
        ``user_message`` (it is answered again: a regenerate) and a stored empty, unfinished
        assistant message named as the answer (filled in: its frontend or ``chats/new`` made
        it). Returns that placeholder as ``(id, parent id)`` and the turn's parent."""
        named_id = named["id"] if named is not None else None
        wanted = [i for i in (named_id, options.message_id) if i]
        if not wanted:
            return None, parent
        if len(set(wanted)) < len(wanted):
            raise Conflict("The user message and the answer need different ids")
        stored = self.turns.named_messages(chat_id, wanted)
        if named_id in stored:
            if not options.reuse_named or options.continue_ or stored[named_id].role != "user":
                raise Conflict(f"Message {named_id} already exists in chat {chat_id}")
            options.regenerate, parent = True, named_id
        answer = stored.get(options.message_id) if options.message_id else None
        if answer is None:
            return None, parent
        reusable = (
            options.reuse_named
            and not options.continue_
            and answer.role == "assistant"
            and not answer.done
            and not answer.content
            and (named_id is None or named_id in stored)
            and (not options.regenerate or answer.parent_id == parent)
            and not any(g.message_id == answer.id for g in self.registry.running(user_id, chat_id))
        )
        if not reusable:
            raise Conflict(f"Message {answer.id} already exists in chat {chat_id}")
        return (answer.id, answer.parent_id), parent

    async def _with_context(
        self,
        user: UserInfo,
        resolved: ResolvedModel,
        messages: list[dict[str, Any]],
        options: TurnOptions,
        status: TurnStatus,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Put retrieved context in place of the last user message (Open WebUI's RAG template)."""
        if self.memories is not None:  # the user's relevant memories in the system prompt
            messages = await self.memories.into_prompt(user, messages, options.features)
        files = [*(f for f in options.files if not is_image_item(f)), *resolved.knowledge]
        workspace = options.workspace_sources
        features = {k: v for k, v in options.features.items() if k != IMAGE_FEATURE}
        if self.context_builder is None or not (files or any(features.values()) or workspace):
            return messages, []
        last = len(messages) - 1
        while last >= 0 and messages[last].get("role") != "user":
            last -= 1
        if last < 0:
            return messages, []
        query = text_of(messages[last].get("content"))
        searching = bool(files or workspace or options.features.get("workspace"))
        if searching:
            status.say(
                turn_status.SEARCHING_WORKSPACE
                if options.features.get("workspace")
                else turn_status.SEARCHING_SOURCES
            )
        builder = self.context_builder
        args = (query, files, features, user, *([workspace] if workspace else []))
        # The embedded model evaluates its prompt on this machine's CPU: fewer sources.
        budget = self.local_context_chars if runs_locally(resolved) else None
        kwargs = {} if budget is None else {"budget": budget}
        try:
            if inspect.iscoroutinefunction(builder):
                found = await builder(*args, **kwargs)
            else:  # retrieval is blocking: keep it off the event loop
                found = await asyncio.to_thread(builder, *args, **kwargs)
        except BaseException:
            status.finish()
            raise
        block, sources = found[0], found[1]
        note = found[2] if len(found) > 2 else None  # e.g. no workspace file matched
        if searching or sources:
            status.say(
                turn_status.reading(len(sources)) if sources else note or turn_status.NO_SOURCES
            )
        if block:
            messages = [*messages]
            messages[last] = {
                **messages[last],
                "content": with_text(messages[last].get("content"), block),
            }
        return messages, list(sources or [])

    def _check_images(
        self, resolved: ResolvedModel, messages: list[dict[str, Any]], options: TurnOptions
    ) -> None:
        """A new message's images for a text-only model: refused before anything is written."""
        if self.vision is None:
            return
        named = options.user_message or {}
        users = [m for m in messages if m.get("role") == "user"]
        content = (
            named["content"] if "content" in named else (users[-1] if users else {}).get("content")
        )
        self.vision.check_new(resolved, content, list(named.get("files") or options.files))

    async def _inline(
        self,
        user: UserInfo,
        resolved: ResolvedModel,
        prompt: list[dict[str, Any]],
        saved: SavedImages | None,
    ) -> list[dict[str, Any]]:
        if self.vision is None:
            return prompt
        return await self.vision.inline(user, resolved, prompt, saved)

    def _body(
        self, resolved: ResolvedModel, messages: list[dict[str, Any]], options: TurnOptions
    ) -> dict[str, Any]:
        if resolved.system:
            if messages and messages[0].get("role") == "system":
                first = messages[0]
                messages = [
                    {**first, "content": f"{resolved.system}\n\n{text_of(first.get('content'))}"},
                    *messages[1:],
                ]
            else:
                messages = [{"role": "system", "content": resolved.system}, *messages]
        upstream = [
            {"role": m["role"], "content": m.get("content") or "", **_passthrough(m)}
            for m in messages
        ]
        body = {
            **self.default_params,
            **resolved.params,
            **options.params,
            "model": resolved.upstream_id,
            "messages": upstream,
        }
        body.pop("function_calling", None)  # Open WebUI's own parameter, not the upstream's
        if options.tool_plan is not None:
            body = options.tool_plan.prepare(body)
        return body


def _encode_json(data: dict[str, Any]) -> bytes:
    import json

    return json.dumps(data, separators=(",", ":")).encode()


def _empty_answer(
    message_id: str, parent_id: str | None, model: str, extra: dict[str, Any] | None = None
) -> NewMessage:
    """The assistant row a turn writes before the model answers (filled in as it streams)."""
    from oui_jupyter.store.chats import NewMessage

    return NewMessage(
        id=message_id,
        role="assistant",
        content="",
        parent_id=parent_id,
        model=model,
        done=False,
        extra=dict(extra or {}),
    )


def _answer_text(answer: Any) -> str:
    """The text of an upstream ``chat.completion`` (for an estimate of its tokens)."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    return text_of((choices[0].get("message") or {}).get("content"))


def _passthrough(message: dict[str, Any]) -> dict[str, Any]:
    """OpenAI message fields other than role/content (name, tool calls)."""
    return {k: message[k] for k in ("name", "tool_calls", "tool_call_id") if k in message}
