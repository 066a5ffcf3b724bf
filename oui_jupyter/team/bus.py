"""Live events between replicas of the team service: PostgreSQL LISTEN/NOTIFY, no other server.

Each replica holds two psycopg connections of its own, each in a thread of its own, so the
event loop never waits on the database:

- the *listener* ``LISTEN``s on the channel and hands what it hears to the loop; it reconnects
  (every ``reconnect_delay`` seconds) when its connection is lost (database restarted,
  ``pg_terminate_backend``), and pings it every ``ping_interval`` seconds of silence;
- the *publisher* sends the queued messages with ``pg_notify``, all those queued together in one
  transaction (PostgreSQL delivers them in order, at commit).

A message is ``header`` (a JSON object; ``k`` = its kind, ``o`` = the replica that sent it) and
an optional ``body`` (text: an event's frame, already encoded once). NOTIFY's payload is under
8000 bytes: a longer message goes as several notifications ``origin:id:index:count:piece``,
reassembled by the listener. A replica ignores what it sent itself: it has already delivered
it locally, so each socket gets each event exactly once (a batch sent again after a lost
connection is recognised by its messages' numbers and not delivered twice).

Request/reply (``gather``): the asking replica publishes a request and waits for one reply from
each other replica (they are counted in ``pg_stat_activity`` by their listener's
``application_name``), at most ``reply_timeout`` seconds. Stopping a turn and listing the
running ones go this way: a turn runs on one replica, any replica may be asked.

What is published while a replica's listener is disconnected does not reach that replica (its
clients read their chats again when they reconnect; everything is saved).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import psycopg

    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.models import ModelService
    from oui_jupyter.services.retrieval.service import RetrievalService
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.tools.channel import ToolChannels

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

CHANNEL = "oui_team_events"
#: bytes of one notification's payload (PostgreSQL refuses 8000 and more), prefix included
MAX_PAYLOAD = 7900
_PREFIX_ROOM = 64  # "origin:id:index:count:" fits in this

Handler = Callable[[dict[str, Any], str], None]


def libpq_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def split_payload(text: str, limit: int = MAX_PAYLOAD - _PREFIX_ROOM) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode()
    if len(data) <= limit:
        return [text]
    pieces, start = [], 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        pieces.append(data[start:end].decode())
        start = end
    return pieces


class _Gather:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.replies: list[dict[str, Any]] = []
        self.done = asyncio.get_running_loop().create_future()

    def add(self, reply: dict[str, Any]) -> None:
        self.replies.append(reply)
        if len(self.replies) >= self.expected and not self.done.done():
            self.done.set_result(None)


class PgBus:
    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        reconnect_delay: float = 0.5,
        ping_interval: float = 5.0,
        reply_timeout: float = 3.0,
    ) -> None:
        self.dsn = libpq_dsn(url)
        self.channel = channel
        self.replica = uuid.uuid4().hex[:12]
        self.application_name = f"oui-bus {channel}"[:63]
        self.reconnect_delay = reconnect_delay
        self.ping_interval = ping_interval
        self.reply_timeout = reply_timeout
        self.connects = 0  # how many times the listener has (re)connected
        self._handlers: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._ids = itertools.count()
        self._partial: dict[tuple[str, str], list[str]] = {}
        self._last_heard: dict[str, int] = {}  # origin -> the number of its last message
        self._gathers: dict[str, _Gather] = {}
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self._query_lock = threading.Lock()
        self._query_conn: psycopg.Connection[Any] | None = None

    # ----- life -----
    def start(self, loop: asyncio.AbstractEventLoop, wait: float = 10.0) -> None:
        """Start both threads; wait up to ``wait`` seconds for the first ``LISTEN``."""
        self._loop = loop
        for target, name in ((self._listen, "listen"), (self._publish_loop, "publish")):
            thread = threading.Thread(target=target, name=f"oui-bus-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._listening.wait(wait):
            log.warning("oui: the event bus is not listening yet; it keeps trying")

    def close(self) -> None:
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(5)
        with self._query_lock:
            if self._query_conn is not None:
                self._query_conn.close()
                self._query_conn = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    # ----- sending -----
    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(header, body)`` on the event loop for each message of ``kind``
        another replica sends."""
        self._handlers[kind] = handler

    def publish(self, kind: str, header: dict[str, Any] | None = None, body: str = "") -> None:
        """Send a message to the other replicas; from any thread, never blocks."""
        message_id = f"{next(self._ids):x}"
        head = {**(header or {}), "k": kind, "o": self.replica}
        pieces = split_payload(_encode(head).decode() + "\n" + body)
        count = len(pieces)
        for index, piece in enumerate(pieces):
            self._outbox.put(f"{self.replica}:{message_id}:{index}:{count}:{piece}")

    async def gather(self, kind: str, header: dict[str, Any]) -> list[dict[str, Any]]:
        """Ask every other replica; their replies (at most ``reply_timeout`` seconds' wait)."""
        try:
            peers = await asyncio.to_thread(self.peer_count)
        except Exception as error:  # the database is down: only this replica answers
            log.warning("oui: could not count the other replicas (%s)", error)
            return []
        if peers <= 0:
            return []
        request = uuid.uuid4().hex
        gather = self._gathers[request] = _Gather(peers)
        try:
            self.publish(kind, {**header, "r": request})
            await asyncio.wait_for(asyncio.shield(gather.done), self.reply_timeout)
        except asyncio.TimeoutError:
            log.warning(
                "oui: %d of %d replicas answered %s in time", len(gather.replies), peers, kind
            )
        finally:
            self._gathers.pop(request, None)
        return gather.replies

    def reply(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        self.publish("reply", {**answer, "r": request.get("r"), "to": request.get("o")})

    def peer_count(self) -> int:
        """The other replicas listening on this database (blocking: call it in a thread)."""
        import psycopg

        with self._query_lock:
            for attempt in range(2):
                try:
                    if self._query_conn is None or self._query_conn.closed:
                        self._query_conn = psycopg.connect(self.dsn, autocommit=True)
                    row = self._query_conn.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s "
                        "AND pid <> pg_backend_pid()",
                        (self.application_name,),
                    ).fetchone()
                    mine = 1 if self.listening else 0
                    return max(int(row[0]) - mine, 0) if row else 0
                except psycopg.Error:
                    if self._query_conn is not None:
                        self._query_conn.close()
                    self._query_conn = None
                    if attempt:
                        raise
        return 0

    # ----- the threads -----
    def _connect(self, application_name: str) -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(
            self.dsn, autocommit=True, application_name=application_name, connect_timeout=10
        )

    def _publish_loop(self) -> None:
        import psycopg

        conn: psycopg.Connection[Any] | None = None
        try:  # at once: the first event should not wait for a connection
            conn = self._connect("oui-bus publisher")
        except psycopg.Error as error:
            log.warning("oui: the event bus cannot publish yet (%s)", error)
        while not self._stop.is_set():
            first = self._outbox.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < 500:
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stop.set()
                    break
                batch.append(item)
            for attempt in range(3):
                try:
                    if conn is None or conn.closed:
                        conn = self._connect("oui-bus publisher")
                    with conn.transaction(), conn.cursor() as cursor:
                        cursor.executemany(
                            "SELECT pg_notify(%s, %s)", [(self.channel, p) for p in batch]
                        )
                    break
                except psycopg.Error as error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if attempt == 2 or self._stop.is_set():
                        dropped = len(batch) + self._drain()  # stale by the time it is back
                        log.warning("oui: %d bus messages not sent (%s)", dropped, error)
                        break
                    time.sleep(self.reconnect_delay)
        if conn is not None:
            conn.close()

    def _drain(self) -> int:
        """Drop what is queued (the database is unreachable); how many were dropped."""
        dropped = 0
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return dropped
            if item is None:
                self._stop.set()
                return dropped
            dropped += 1

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect(self.application_name)
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                self.connects += 1
                self._listening.set()
                if self.connects > 1:
                    log.info("oui: the event bus is listening again")
                quiet_since = time.monotonic()
                while not self._stop.is_set():
                    heard = False
                    for notify in conn.notifies(timeout=0.5):
                        heard = True
                        self._heard(notify.payload)
                    if heard:
                        quiet_since = time.monotonic()
                    elif time.monotonic() - quiet_since > self.ping_interval:
                        conn.execute("SELECT 1")  # a dead connection raises here
                        quiet_since = time.monotonic()
            except psycopg.Error as error:
                if not self._stop.is_set():
                    log.warning("oui: the event bus lost its connection (%s); reconnecting", error)
            finally:
                self._listening.clear()
                self._partial.clear()
                if conn is not None:
                    conn.close()
            self._stop.wait(self.reconnect_delay)

    def _heard(self, payload: str) -> None:
        """In the listener's thread: one notification; a whole message goes to the loop."""
        try:
            origin, message_id, index, count, piece = payload.split(":", 4)
            last = int(count) - 1
            position = int(index)
            number = int(message_id, 16)
        except ValueError:
            log.warning("oui: a malformed bus message was ignored")
            return
        if origin == self.replica:
            return
        if position == 0:
            # A replica numbers its messages in the order it sends them: one numbered as one
            # heard already was sent again (its commit's answer lost): once is enough.
            if number <= self._last_heard.get(origin, -1):
                return
            self._last_heard[origin] = number
        if last > 0:
            key = (origin, message_id)
            parts = self._partial.setdefault(key, [])
            if len(parts) != position:  # a piece was lost (reconnected): drop the message
                self._partial.pop(key, None)
                return
            parts.append(piece)
            if position < last:
                return
            piece = "".join(self._partial.pop(key))
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, piece)

    def _dispatch(self, text: str) -> None:
        """On the loop: one whole message from another replica."""
        head_text, _, body = text.partition("\n")
        try:
            header = msgspec.json.decode(head_text)
        except msgspec.DecodeError:
            log.warning("oui: a malformed bus message was ignored")
            return
        kind = header.get("k")
        if kind == "reply":
            if header.get("to") == self.replica:
                gather = self._gathers.get(header.get("r", ""))
                if gather is not None:
                    gather.add(header)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            return
        try:
            handler(header, body)
        except Exception:
            log.exception("oui: the bus handler of %s failed", kind)


# ----- what the replicas share through the bus -----
def connect_replicas(
    bus: PgBus,
    *,
    hub: EventHub,
    registry: TaskRegistry,
    models: ModelService,
    retrieval: RetrievalService,
    tool_channels: ToolChannels | None = None,
) -> None:
    """Wire the services of this replica to the others (``app.build_services``)."""
    # Events: each replica delivers to its own sockets what the others publish.
    hub.relay = bus
    bus.on("event", lambda head, body: hub.deliver(head["u"], body))

    # Running turns: stopped and listed wherever they run.
    registry.bus = bus
    bus.on("stop", lambda head, _: bus.reply(head, {"t": registry.stop_chat(head["u"], head["c"])}))
    bus.on(
        "tasks",
        lambda head, _: bus.reply(
            head, {"t": [g.task_id for g in registry.running(head["u"], head["c"])]}
        ),
    )

    # Tool channels: a client's poll or result may land on another replica than its turn.
    if tool_channels is not None:
        tool_channels.connect(bus)

    # Connection settings: each replica reads them again from the database when they change.
    models.on_settings_changed = lambda: bus.publish("config", {"what": "connections"})

    # Retrieval settings live in each replica's memory: changes are applied everywhere.
    update_here = retrieval.update_config

    def update_everywhere(changes: dict[str, Any]) -> dict[str, Any]:
        answer = update_here(changes)
        bus.publish("config", {"what": "retrieval", "changes": changes})
        return answer

    def on_config(head: dict[str, Any], _: str) -> None:
        if head.get("what") == "connections":
            models.forget_settings()
        elif head.get("what") == "retrieval":
            changes = head.get("changes") or {}
            loop = asyncio.get_running_loop()
            task = loop.run_in_executor(None, update_here, changes)
            task.add_done_callback(_log_failure)

    retrieval.update_config = update_everywhere  # type: ignore[method-assign]
    bus.on("config", on_config)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("oui: a change another replica made failed here", exc_info=future.exception())
