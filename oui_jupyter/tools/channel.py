"""Tool channels: a turn on the oui team service calls tools that run on the user's server.

A team client server that forwards a turn whose ``tool_ids`` name its own (workspace) tools
sends their specs as ``client_tools`` and a random ``tool_channel`` id. The service opens the
channel for that turn (``ToolChannels.open``), which answers the turn's ``TurnTools``: the
client's tools as ``RemoteTool``s over the registry. A call of a remote tool queues a
request on the channel; the client long-polls ``v1/tools/channel/{id}/requests``, runs the
tool and posts its result to ``v1/tools/channel/{id}/results``, which ends the call. The
channel ends with the turn (``TurnTools.close``); polls then answer ``running: false``.

Only the user who opened a channel may poll it or answer on it (``authz.can_use_tool_channel``);
to anyone else it does not exist (404).

Replicas (``team/bus.py``): a channel lives in the memory of the replica that runs its turn,
as the turn itself does. A poll or a result that lands on another replica asks the others
over the PostgreSQL bus (``gather``: one request, one reply per replica, milliseconds), and
the turn's replica wakes waiting polls everywhere (``tool:wake``) when a channel gets a
request or ends. The bus rather than a table: nothing here must outlive the turn's
process, a call then costs no database write, and the bus is already there; a wake lost
while a listener reconnects costs at most one poll's ``wait``, and a call that no poll picks
up fails with a ``ToolError`` the model reads. Without a bus (one server, SQLite) all of it
is local.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.services.authz import can_use_tool_channel

from .base import NAME_PATTERN, ToolContext, ToolError, ToolResult, ToolTimeout, clip
from .schema import check_schema, parse_arguments, validate_arguments

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo

    from .registry import Registered, ToolRegistry

log = logging.getLogger(__name__)

#: a channel id: random, chosen by the client (``secrets.token_urlsafe(24)``)
CHANNEL_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_CLIENT_TOOLS = 32
MAX_DESCRIPTION = 4000
#: the longest a poll may wait (seconds)
MAX_WAIT = 60.0
#: characters of one result's ``content`` kept (the client's tools clip long before)
MAX_RESULT_CHARS = 200_000
#: the most calls one channel holds waiting at once
MAX_PENDING = 64


class ChannelBus(Protocol):
    """What a channel needs of ``team.bus.PgBus``."""

    def on(self, kind: str, handler: Callable[[dict[str, Any], str], None]) -> None: ...

    def publish(self, kind: str, header: dict[str, Any] | None = None, body: str = "") -> None: ...

    async def gather(self, kind: str, header: dict[str, Any]) -> list[dict[str, Any]]: ...

    def reply(self, request: dict[str, Any], answer: dict[str, Any]) -> None: ...


def check_client_tools(raw: Any) -> list[dict[str, Any]]:
    """A turn's ``client_tools`` as specs ``{name, description, parameters,
    requires_approval}``; ``InvalidInput`` (422) saying what is wrong."""
    if not isinstance(raw, list):
        raise InvalidInput("client_tools must be a list of {name, description, parameters}")
    if len(raw) > MAX_CLIENT_TOOLS:
        raise InvalidInput(f"client_tools names {len(raw)} tools; at most {MAX_CLIENT_TOOLS}")
    specs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for spec in raw:
        if not isinstance(spec, dict):
            raise InvalidInput("each of client_tools must be an object")
        name = spec.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise InvalidInput(
                f"client_tools: name {name!r} is not 1-64 letters, digits, '_' or '-'"
            )
        if name in seen:
            raise InvalidInput(f"client_tools names {name} twice")
        seen.add(name)
        description = spec.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                f"client_tools: {name}'s description must be a string of at most "
                f"{MAX_DESCRIPTION} characters"
            )
        parameters = spec.get("parameters", {"type": "object", "properties": {}})
        try:
            check_schema(parameters)
        except ValueError as exc:
            raise InvalidInput(f"client_tools: {name}: {exc}") from None
        approval = spec.get("requires_approval", False)
        if not isinstance(approval, bool):
            raise InvalidInput(f"client_tools: {name}'s requires_approval must be true or false")
        specs.append(
            {
                "name": name,
                "description": description,
                "parameters": parameters,
                "requires_approval": approval,
            }
        )
    return specs


def check_channel_id(channel_id: Any) -> str:
    if not isinstance(channel_id, str) or not CHANNEL_PATTERN.match(channel_id):
        raise InvalidInput("tool_channel must be 16-64 letters, digits, '_' or '-'")
    return channel_id


@dataclass
class _Call:
    call_id: str
    seq: int
    name: str
    arguments: dict[str, Any]
    context: ToolContext
    future: asyncio.Future[ToolResult | ToolError]
    taken: asyncio.Event = field(default_factory=asyncio.Event)

    def request(self) -> dict[str, Any]:
        """What the client's poll reads."""
        c = self.context
        return {
            "seq": self.seq,
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "tool_call_id": c.call_id,
            "chat_id": c.chat_id,
            "message_id": c.message_id,
        }


class Channel:
    """One turn's channel, in the memory of the replica that runs the turn."""

    def __init__(self, channel_id: str, user_id: str) -> None:
        self.id = channel_id
        self.user_id = user_id
        self.running = True
        self.ended_at: float | None = None
        self.calls: dict[str, _Call] = {}  # waiting for their result
        self.answered: set[str] = set()
        self._seq = 0

    def add(self, name: str, arguments: dict[str, Any], context: ToolContext) -> _Call:
        if len(self.calls) >= MAX_PENDING:
            raise ToolError(f"{name}: {MAX_PENDING} calls already wait on the user's server")
        self._seq += 1
        call = _Call(
            uuid.uuid4().hex,
            self._seq,
            name,
            arguments,
            context,
            asyncio.get_running_loop().create_future(),
        )
        self.calls[call.call_id] = call
        return call

    def answer(self, after: int) -> dict[str, Any]:
        """The poll's answer: the calls still waiting numbered after ``after``; they count
        as picked up."""
        waiting = sorted((c for c in self.calls.values() if c.seq > after), key=lambda c: c.seq)
        for call in waiting:
            call.taken.set()
        return {
            "requests": [c.request() for c in waiting],
            "running": self.running,
            "cursor": max([after, *(c.seq for c in waiting)]),
        }

    def resolve(self, result: dict[str, Any]) -> str:
        """``ok``, ``answered`` (a result came already) or ``unknown``."""
        call_id = str(result.get("call_id", ""))
        call = self.calls.pop(call_id, None)
        if call is None:
            return "answered" if call_id in self.answered else "unknown"
        self.answered.add(call_id)
        if not call.future.done():
            call.future.set_result(_outcome(call.name, result))
        return "ok"

    def end(self) -> None:
        self.running = False
        self.ended_at = time.monotonic()
        for call in self.calls.values():
            if not call.future.done():
                call.future.set_result(ToolError(f"{call.name}: the turn ended"))
        self.calls.clear()


def _outcome(name: str, result: dict[str, Any]) -> ToolResult | ToolError:
    """A posted result as a ``ToolResult``, or its ``error`` as the ``ToolError`` the call
    raises."""
    error = result.get("error")
    if error is not None:
        return ToolError(f"{name}: {clip(str(error), 2000)[0]}")
    sources = result.get("sources")
    content, _ = clip(str(result.get("content") or ""), MAX_RESULT_CHARS)
    kept = [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []
    return ToolResult(content, result.get("data"), kept)


class ToolChannels:
    """The channels of the turns running in this replica (``Services.tool_channels``)."""

    def __init__(
        self, *, timeout: float = 120.0, pickup_timeout: float = 30.0, linger: float = 60.0
    ) -> None:
        """``timeout``: the most seconds a call waits for its result once picked up;
        ``pickup_timeout``: for a poll to pick it up; ``linger``: how long an ended channel
        still answers ``running: false``."""
        self.timeout = timeout
        self.pickup_timeout = pickup_timeout
        self.linger = linger
        self.bus: ChannelBus | None = None
        self._channels: dict[str, Channel] = {}
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    # ----- a turn's side -----
    def open(
        self,
        user: UserInfo,
        channel_id: Any,
        client_tools: Any,
        registry: ToolRegistry,
    ) -> TurnTools:
        """Open the channel of a turn that brings ``client_tools`` (422 when the id or a
        spec is not valid, 409 when the id is in use): the turn's ``TurnTools``, which the
        turn closes when it ends."""
        channel_id = check_channel_id(channel_id)
        specs = check_client_tools(client_tools)
        self._sweep()
        if channel_id in self._channels:
            raise Conflict(f"tool_channel {channel_id} is in use")
        channel = self._channels[channel_id] = Channel(channel_id, user.id)
        self._changed(channel_id)
        tools = [RemoteTool(self, channel, spec) for spec in specs]
        return TurnTools(registry, tools, on_close=lambda: self.end(channel))

    def end(self, channel: Channel) -> None:
        if channel.running:
            channel.end()
            self._changed(channel.id)

    async def call(
        self, channel: Channel, name: str, args: dict[str, Any], context: ToolContext
    ) -> ToolResult:
        """Queue a call for the user's server and wait for its result."""
        if not channel.running:
            raise ToolError(f"{name}: the turn ended")
        call = channel.add(name, args, context)
        self._changed(channel.id)
        try:
            try:
                await asyncio.wait_for(call.taken.wait(), self.pickup_timeout)
            except asyncio.TimeoutError:
                raise ToolTimeout(
                    f"{name}: the user's Jupyter server did not pick up the call within "
                    f"{self.pickup_timeout:g} s (is it still running?)"
                ) from None
            try:
                outcome = await asyncio.wait_for(asyncio.shield(call.future), self.timeout)
            except asyncio.TimeoutError:
                raise ToolTimeout(
                    f"{name}: no answer from the user's Jupyter server within {self.timeout:g} s"
                ) from None
        finally:
            channel.calls.pop(call.call_id, None)
        if isinstance(outcome, ToolError):
            raise outcome
        return outcome

    # ----- the client's side -----
    async def poll(
        self, user: UserInfo, channel_id: str, after: int, wait: float
    ) -> dict[str, Any]:
        """The calls waiting on the channel numbered after ``after``, at once if there are
        any, else as soon as one comes or the turn ends, at most ``wait`` seconds: ``{requests,
        running, cursor}``. ``NotFound`` at once when no replica has the caller's channel
        (not yet: the client asks again while its turn is on its way; or no more)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(wait, MAX_WAIT))
        if not CHANNEL_PATTERN.match(channel_id):
            raise NotFound("no such tool channel")
        while True:
            waiter = self._wait(channel_id)
            try:
                answer = self._local_poll(user, channel_id, after)
                if answer is None and self.bus is not None:
                    answer = await self._remote_poll(user, channel_id, after)
                if answer is None:
                    raise NotFound("no such tool channel")
                if answer["requests"] or not answer["running"]:
                    return answer
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return answer
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._unwait(channel_id, waiter)

    async def post_result(self, user: UserInfo, channel_id: str, result: dict[str, Any]) -> None:
        """End a call with the client's result (``{call_id, content, data, sources}`` or
        ``{call_id, error}``); ``NotFound`` when no such call waits on the caller's channel,
        ``Conflict`` when it has its result already."""
        state = self._local_result(user, channel_id, result)
        if state is None and self.bus is not None:
            replies = await self.bus.gather(
                "tool:result", {"u": user.id, "c": channel_id, **result}
            )
            states = {r.get("s") for r in replies}
            state = "ok" if "ok" in states else "answered" if "answered" in states else None
        if state == "ok":
            return
        if state == "answered":
            raise Conflict(f"call {result.get('call_id')} has its result already")
        raise NotFound(f"no call {result.get('call_id')} waits on this tool channel")

    # ----- here -----
    def _mine(self, user_id: str, channel_id: str) -> Channel | None:
        """This replica's channel ``channel_id`` if it is ``user_id``'s."""
        channel = self._channels.get(channel_id)
        if channel is None or not can_use_tool_channel(user_id, channel.user_id):
            return None
        return channel

    def _local_poll(self, user: UserInfo, channel_id: str, after: int) -> dict[str, Any] | None:
        channel = self._channels.get(channel_id)
        if channel is not None and not can_use_tool_channel(user.id, channel.user_id):
            raise NotFound("no such tool channel")
        return None if channel is None else channel.answer(after)

    def _local_result(self, user: UserInfo, channel_id: str, result: dict[str, Any]) -> str | None:
        channel = self._channels.get(channel_id)
        if channel is None:
            return None
        if not can_use_tool_channel(user.id, channel.user_id):
            raise NotFound("no such tool channel")
        return channel.resolve(result)

    def _sweep(self) -> None:
        now = time.monotonic()
        for channel_id, channel in list(self._channels.items()):
            if channel.ended_at is not None and now - channel.ended_at > self.linger:
                del self._channels[channel_id]

    def _wait(self, channel_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel_id, set()).add(future)
        return future

    def _unwait(self, channel_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(channel_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiters[channel_id]

    def _wake(self, channel_id: str) -> None:
        for future in self._waiters.get(channel_id, ()):
            if not future.done():
                future.set_result(None)

    def _changed(self, channel_id: str) -> None:
        """Something happened on the channel: wake its polls here and on the other replicas."""
        self._wake(channel_id)
        if self.bus is not None:
            self.bus.publish("tool:wake", {"c": channel_id})

    # ----- the other replicas -----
    def connect(self, bus: ChannelBus) -> None:
        """Serve and ask the other replicas over ``bus`` (``team.bus.connect_replicas``)."""
        self.bus = bus
        bus.on("tool:wake", lambda head, _: self._wake(str(head.get("c", ""))))
        bus.on("tool:poll", self._on_poll)
        bus.on("tool:result", self._on_result)

    async def _remote_poll(
        self, user: UserInfo, channel_id: str, after: int
    ) -> dict[str, Any] | None:
        assert self.bus is not None
        replies = await self.bus.gather("tool:poll", {"u": user.id, "c": channel_id, "a": after})
        for reply in replies:
            if reply.get("known"):
                return {
                    "requests": list(reply.get("requests") or []),
                    "running": bool(reply.get("running")),
                    "cursor": int(reply.get("cursor") or after),
                }
        return None

    def _on_poll(self, head: dict[str, Any], _: str) -> None:
        assert self.bus is not None
        channel = self._mine(str(head.get("u", "")), str(head.get("c", "")))
        if channel is None:
            self.bus.reply(head, {"known": False})
            return
        after = head.get("a")
        self.bus.reply(
            head, {"known": True, **channel.answer(after if isinstance(after, int) else 0)}
        )

    def _on_result(self, head: dict[str, Any], _: str) -> None:
        assert self.bus is not None
        channel = self._mine(str(head.get("u", "")), str(head.get("c", "")))
        result = {k: head.get(k) for k in ("call_id", "content", "data", "sources", "error")}
        self.bus.reply(head, {"s": None if channel is None else channel.resolve(result)})


class RemoteTool:
    """A tool of the user's server, for one turn: ``run`` asks the server over the channel."""

    #: it works on the user's files, but on their own server: the service's stay untouched
    workspace = False

    def __init__(self, channels: ToolChannels, channel: Channel, spec: dict[str, Any]) -> None:
        self.channels = channels
        self.channel = channel
        self.name: str = spec["name"]
        self.description: str = spec["description"]
        self.parameters: dict[str, Any] = spec["parameters"]
        self.requires_approval: bool = spec["requires_approval"]

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        return await self.channels.call(self.channel, self.name, args, context)


class TurnTools:
    """The tools of one turn: the client's (``RemoteTool``) over the registry's.

    The tool loop looks tools up and runs them here instead of on the registry when the
    turn has one (``TurnOptions.turn_tools``): ``get(name, user)`` answers a ``Registered``
    (source ``client`` for a remote tool) or raises ``NotFound``; ``run(name, arguments,
    context)`` checks the arguments against the tool's schema and runs it, as
    ``ToolRegistry.run`` does. A client tool of the same name as a registry tool wins:
    the client said it runs it. ``close()`` (idempotent) ends the channel: whoever runs
    the turn calls it when the turn ends.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        remote: Iterable[RemoteTool] = (),
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.registry = registry
        self.remote = {tool.name: tool for tool in remote}
        self._on_close = on_close
        self.closed = False

    def get(self, name: str, user: UserInfo) -> Registered:
        from .registry import Registered

        tool = self.remote.get(name)
        if tool is not None:
            return Registered(tool, "client", None)
        return self.registry.get(name, user)

    async def run(
        self, name: str, arguments: str | dict[str, Any] | None, context: ToolContext
    ) -> ToolResult:
        tool = self.remote.get(name)
        if tool is None:
            return await self.registry.run(name, arguments, context)
        args = validate_arguments(name, tool.parameters, parse_arguments(name, arguments))
        return await tool.run(args, context)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._on_close is not None:
            self._on_close()
