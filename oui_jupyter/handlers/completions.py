"""``chat/completions`` (OpenAI-compatible) and ``v1/chats/{id}/message`` (a whole turn)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from oui_jupyter.errors import InvalidInput, OuiError
from oui_jupyter.handlers.base import (
    OpenAIKeyAuth,
    Operation,
    OuiHandler,
    convert_body,
    status_for,
)
from oui_jupyter.schemas.completions import (
    OPENAI_PARAMS,
    OUI_FIELDS,
    AssistantMessageResponse,
    ChatCompletionForm,
    ChatMessageForm,
    LiveTaskResponse,
)
from oui_jupyter.services.completions import UNSET, ClientGone, Generation, TurnOptions
from oui_jupyter.services.evaluations import ARENA_MARK, ARENA_MODEL_ID
from oui_jupyter.services.workspace_context import workspace_sources

if TYPE_CHECKING:
    from oui_jupyter.tools.channel import TurnTools

_encode = msgspec.json.Encoder().encode
_NOT_PARAMS = {"model", "messages", "stream", *OUI_FIELDS}
_CHAT_ID = {"required": ["chat_id"], "properties": {"chat_id": {"type": "string"}}}
# Open WebUI's first turn: no chat_id, `parent_id: null` and the new user message; the server
# makes the chat.
_NEW_CHAT = {
    "required": ["parent_id"],
    "properties": {"parent_id": {"type": "null"}, "chat_id": {"type": "null"}},
    "anyOf": [
        {"required": [name], "properties": {name: {"type": "object"}}}
        for name in ("user_message", "parent_message")
    ],
}
_IN_A_CHAT = {"anyOf": [_CHAT_ID, _NEW_CHAT]}


def _when(name: str, then: dict[str, Any]) -> dict[str, Any]:
    return {
        "if": {"required": [name], "properties": {name: {"not": {"enum": [None, False]}}}},
        "then": then,
    }


# Live mode (session_id) works in a chat, a given one or a new one; regenerate and continue
# need a given chat; a turn outside a chat sends its messages.
NEEDS_CHAT_ID: dict[str, Any] = {
    "allOf": [
        _when("session_id", _IN_A_CHAT),
        _when("regenerate", _CHAT_ID),
        _when("continue", _CHAT_ID),
        {
            "anyOf": [
                _IN_A_CHAT,
                {"required": ["messages"], "properties": {"messages": {"minItems": 1}}},
            ]
        },
    ]
}


class StreamingHandler(OuiHandler):
    """Writes a generation as Server-Sent Events, one event per upstream chunk.

    The first event is flushed at once; the events written after it in one turn of the
    event loop are flushed together: one ``send`` instead of one per event when the upstream
    is fast or many answers stream at once (an idle server still flushes each event at the
    end of the turn that wrote it). A turn's ``status`` chunks (``write_status``) may start
    the stream before the answer exists; a failure after them is an SSE ``error`` event.
    """

    _sse_started = False
    _flush_scheduled = False
    _first_sent = False
    _client_gone = False
    _turn_tools: TurnTools | None = None
    _went_live = False

    def open_turn_tools(self, options: TurnOptions, channel: str | None, client_tools: Any) -> None:
        """A team client server's own tools for this turn (``client_tools`` over
        ``tool_channel``, ``tools/channel.py``): the turn sees them in ``options.turn_tools``;
        the channel ends with the turn (``close_turn_tools``, or with a live turn's tasks)."""
        if channel is None and client_tools is None:
            return
        if channel is None or client_tools is None:
            raise InvalidInput("client_tools and tool_channel come together")
        specs = [msgspec.to_builtins(spec) for spec in client_tools]
        self._turn_tools = self.services.tool_channels.open(self.user, channel, specs, self.tools)
        options.turn_tools = self._turn_tools

    def close_turn_tools(self) -> None:
        """The request's turn is over (a live turn's channel ends with its tasks)."""
        if self._turn_tools is not None and not self._went_live:
            self._turn_tools.close()

    def _start_sse(self) -> None:
        if self._sse_started:
            return
        self._sse_started = True
        # One small write per chunk: sent at once, not held back by Nagle's algorithm until
        # the client acknowledged the previous one (tornado turns it back off at the end).
        self.request.connection.stream.set_nodelay(True)  # type: ignore[union-attr]
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")

    def on_connection_close(self) -> None:
        self._client_gone = True
        super().on_connection_close()

    async def _sink(self, raw: bytes, data: dict[str, Any]) -> None:
        if self._client_gone:
            raise ClientGone()
        if not self._sse_started:
            self._start_sse()
        self.write(b"data: " + raw + b"\n\n")
        if not self._first_sent:
            # The first event leaves at once: the client's time to first token does not
            # wait for the rest of what the upstream sent in the same packet.
            self._first_sent = True
            self._flush_events()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_events)

    def write_status(self, chunk: dict[str, Any]) -> None:
        """A status chunk of the turn (``TurnOptions.status_sink``), sent at once."""
        if self._client_gone or self._finished:
            return
        self._start_sse()
        self.write(b"data: " + _encode(chunk) + b"\n\n")
        self._flush_events()

    async def sse_turn(self, turn: Awaitable[Generation]) -> Generation | None:
        """``turn``'s generation; None when it failed after its statuses started the stream
        (the failure is then the stream's ``error`` event and the stream is ended)."""
        try:
            return await turn
        except OuiError as error:
            if not self._sse_started or self._finished:
                raise
            await self._end_sse(error)
            return None

    async def _end_sse(self, error: OuiError | None, final: bytes = b"") -> None:
        try:
            if error is not None:
                body = {
                    "message": error.message,
                    "type": "upstream_error",
                    "code": status_for(error),
                    "reason": error.reason,
                }
                self.write(b"data: " + _encode({"error": body}) + b"\n\n")
            if final:
                self.write(final)
            self.write(b"data: [DONE]\n\n")
            await self.flush()
        except StreamClosedError:
            return
        self.finish()

    def _flush_events(self) -> None:
        self._flush_scheduled = False
        if not self._finished:
            self.flush().add_done_callback(self._flushed)

    def _flushed(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and isinstance(future.exception(), StreamClosedError):
            self._client_gone = True  # the generation stops at its next chunk

    async def stream_generation(
        self, generation: Generation, final_event: Callable[[], bytes] | None = None
    ) -> None:
        if generation.sources:
            # Open WebUI's first event: the retrieved sources, before any token. Shaped as a
            # chunk with no choices, so the openai client reads past it.
            self._start_sse()
            self.write(b"data: " + _encode(generation.sources_chunk()) + b"\n\n")
        await generation.run(self._sink)
        if generation.error is not None and not self._sse_started:
            raise generation.error  # nothing sent yet: an honest 502/504 with a message
        self._start_sse()
        await self._end_sse(generation.error, final_event() if final_event is not None else b"")

    def start_live(self, generation: Generation, *more: Generation) -> None:
        """Run the generations as server tasks; answer the first's ids and every task id."""
        task_ids = [self.completions.start_live(g) for g in (generation, *more)]
        if self._turn_tools is not None:
            self._went_live = True
            self.services.tasks.when_done(task_ids, self._turn_tools.close)
        self.write_json(
            LiveTaskResponse(
                task_id=task_ids[0],
                chat_id=generation.chat_id or "",
                message_id=generation.message_id or "",
                user_message_id=generation.user_message_id,
                task_ids=task_ids,
                message_ids=[g.message_id or "" for g in (generation, *more)],
            )
        )


def answers(form: ChatCompletionForm) -> list[tuple[str, str]]:
    """``(model, message id)`` of each answer Open WebUI's ``message_ids`` asks for (a list of
    ``{model_id, message_id}`` or a ``{model_id: message_id}`` map)."""
    entries = form.message_ids
    if isinstance(entries, dict):
        return list(entries.items())
    return [(e.model_id, e.message_id) for e in entries or []]


def answer_id(form: ChatCompletionForm) -> str | None:
    """The answer's id a request names: ``message_ids``' entry for the requested model (or its
    first), else ``id``."""
    pairs = answers(form)
    return next(
        (mid for model, mid in pairs if model == form.model), pairs[0][1] if pairs else form.id
    )


def sampling_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAI sampling parameters in Open WebUI's ``params`` (it sends them there)."""
    return {k: v for k, v in (params or {}).items() if k in OPENAI_PARAMS and v is not None}


class ChatCompletionsHandler(OpenAIKeyAuth, StreamingHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "OpenAI-compatible chat completion: SSE chunks with stream: true, a chat.completion "
            "otherwise; with chat_id the turn is saved in that chat; with session_id it answers "
            "{task_id, chat_id, message_id} at once and streams over the WebSocket",
            body=ChatCompletionForm,
            response=dict[str, Any],
            statuses=(409, 502, 503, 504),
            body_rules=NEEDS_CHAT_ID,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse_json()
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a JSON object")
        form = convert_body(body, ChatCompletionForm)
        user_message = body.get("user_message") or body.get("parent_message")
        options = TurnOptions(
            params={
                **sampling_params(form.params),
                **{k: v for k, v in body.items() if k not in _NOT_PARAMS},
            },
            chat_id=form.chat_id,
            parent_id=UNSET if form.parent_id is msgspec.UNSET else form.parent_id,
            regenerate=form.regenerate,
            continue_=form.continue_,
            files=form.files or [],
            features=form.features or {},
            message_id=answer_id(form),
            user_message=user_message if form.user_message or form.parent_message else None,
            reuse_named=True,
            # Open WebUI: `parent_id: null` and no chat_id is its frontend's first turn.
            new_chat=form.chat_id is None and form.parent_id is None and bool(user_message),
            folder_id=form.folder_id,
            title=bool((form.background_tasks or {}).get("title_generation", True)),
            workspace_sources=workspace_sources(body.get("workspace_context")),
            tool_ids=list(form.tool_ids or []),
            notebook_path=form.notebook_path,
            function_calling=(form.params or {}).get("function_calling"),
        )
        self.open_turn_tools(options, form.tool_channel, form.client_tools)
        try:
            await self._turn(form, options)
        finally:
            self.close_turn_tools()

    async def _turn(self, form: ChatCompletionForm, options: TurnOptions) -> None:
        completions = self.completions
        if form.model == ARENA_MODEL_ID:
            await self.start_arena(form, options)
            return
        if form.session_id is not None:
            if form.chat_id is None and not options.new_chat:
                raise InvalidInput("session_id (live mode) needs a chat_id")
            if len(answers(form)) > 1:  # Open WebUI's several models: one answer each
                self.start_live(
                    *await completions.from_openai_many(
                        self.user, answers(form), form.messages, options
                    )
                )
                return
            self.start_live(
                await completions.from_openai(self.user, form.model, form.messages, options)
            )
            return
        if not form.stream and form.chat_id is None and not options.new_chat:
            self.write_json(
                await completions.complete_direct(self.user, form.model, form.messages, options)
            )
            return
        if form.stream:
            options.status_sink = self.write_status
            streamed = await self.sse_turn(
                completions.from_openai(self.user, form.model, form.messages, options)
            )
            if streamed is not None:
                await self.stream_generation(streamed)
            return
        generation = await completions.from_openai(self.user, form.model, form.messages, options)
        await generation.run()
        if generation.error is not None:
            raise generation.error
        self.write_json(generation.completion())

    async def start_arena(self, form: ChatCompletionForm, options: TurnOptions) -> None:
        """The arena model's turn: two models drawn at random answer the same user message,
        as two sibling answers marked ``arena`` (live mode only: both stream over the socket)."""
        if form.session_id is None or options.regenerate or options.continue_:
            raise InvalidInput(
                f"{ARENA_MODEL_ID} answers new turns in live mode (with a session_id), "
                "not regenerate or continue"
            )
        if form.chat_id is None and not options.new_chat:
            raise InvalidInput("session_id (live mode) needs a chat_id")
        evaluations = self.services.evaluations
        entries = await self.models.list_models(self.user)
        enabled = await self.off_loop(evaluations.arena_enabled)
        first, second = evaluations.arena_pair(entries, enabled)
        options.answer_extra = dict(ARENA_MARK)
        if options.user_message is None:  # named, so that the second answer joins the first
            asked = [m for m in form.messages if isinstance(m, dict) and m.get("role") == "user"]
            if not asked:
                raise InvalidInput("the last message must be the user's")
            options.user_message = {"id": str(uuid.uuid4()), "content": asked[-1].get("content")}
        pairs = [(first, options.message_id or str(uuid.uuid4())), (second, str(uuid.uuid4()))]
        self.start_live(
            *await self.completions.from_openai_many(self.user, pairs, form.messages, options)
        )


class ChatMessageHandler(StreamingHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Run one turn in a chat: the server reads the branch, retrieves context when asked, "
            "calls the model, saves both messages, pushes socket events and answers the "
            "assistant message (after SSE deltas with stream: true; the message itself comes "
            "as the SSE event `message`)",
            body=ChatMessageForm,
            response=AssistantMessageResponse,
            statuses=(409, 502, 503, 504),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        form = self.parse_body(ChatMessageForm)
        if form.model == ARENA_MODEL_ID:
            raise InvalidInput(f"{ARENA_MODEL_ID} answers through chat/completions (live mode)")
        options = TurnOptions(
            params=dict(form.params or {}),
            parent_id=form.parent_id if form.parent_id is not None else UNSET,
            files=form.files or [],
            features=form.features or {},
            message_id=form.id,
            user_message={"id": form.user_message_id} if form.user_message_id else None,
            workspace_sources=workspace_sources(
                None
                if form.workspace_context is None
                else msgspec.to_builtins(form.workspace_context)
            ),
            tool_ids=list(form.tool_ids or []),
            notebook_path=form.notebook_path,
        )
        self.open_turn_tools(options, form.tool_channel, form.client_tools)
        try:
            await self._turn(chat_id, form, options)
        finally:
            self.close_turn_tools()

    async def _turn(self, chat_id: str, form: ChatMessageForm, options: TurnOptions) -> None:
        completions = self.completions
        if form.stream and form.session_id is None:
            options.status_sink = self.write_status
            streamed = await self.sse_turn(
                completions.from_message(self.user, chat_id, form.content, form.model, options)
            )
            if streamed is not None:
                await self.stream_generation(
                    streamed,
                    lambda: b"event: message\ndata: " + _encode(streamed.message()) + b"\n\n",
                )
            return
        generation = await completions.from_message(
            self.user, chat_id, form.content, form.model, options
        )
        if form.session_id is not None:
            self.start_live(generation)
            return
        await generation.run()
        if generation.error is not None:
            raise generation.error
        self.write_json(generation.message())
