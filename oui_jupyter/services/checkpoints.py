"""Answers that survive a crash: checkpoints while they stream, and marking what a dead server left.

While a persisted answer streams, a ``Checkpointer`` writes its text so far to its row every
``interval`` seconds when the text grew; when it did not, it still stamps the row's
``updated_at`` every ``heartbeat`` seconds (at most ``MAX_HEARTBEAT``), so a live answer's row
never looks abandoned. Each write is one UPDATE of that row (``TurnStore.checkpoint_message``),
in a small thread pool: the event loop only starts it, and one answer never has two writes in
flight. A tool step calls ``Generation.checkpoint`` to save at once.

A server that dies (kill -9, out of memory) leaves its answers ``done: false``. When the
database is opened, ``DeadAnswerSweep`` marks ``done: true, interrupted: true`` every unfinished
answer whose row nobody wrote for ``stale_after`` (``STALE_INTERVALS`` intervals, at least
``MIN_STALE`` seconds): a live server, this one or another on the same database whatever its
interval, stamps its rows at least every ``MAX_HEARTBEAT`` seconds. Answers too fresh to judge
at start are checked again once they could be stale, and their owners' sockets are told when
they are marked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the store imports SQLAlchemy: not at extension load
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.store.turns import TurnStore, UnfinishedAnswer

log = logging.getLogger(__name__)

HEARTBEAT_INTERVALS = 3
MAX_HEARTBEAT = 3.0  # seconds
STALE_INTERVALS = 10
MIN_STALE = 10.0  # seconds: several heartbeats of any server sharing the database
# Seconds added to the re-check of answers that were too fresh to judge at start.
RECHECK_MARGIN = 0.5


class Answer(Protocol):
    chat_id: str | None
    message_id: str | None
    length: int

    def text(self) -> str: ...


class Checkpoints:
    """The server's checkpoint settings and the threads that write them."""

    def __init__(self, turns: TurnStore, interval: float) -> None:
        self.turns = turns
        self.interval = max(0.0, interval)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    @property
    def stale_after(self) -> float:
        """Seconds without a write after which an unfinished answer is judged abandoned."""
        return max(MIN_STALE, STALE_INTERVALS * self.interval)

    @property
    def heartbeat(self) -> float:
        """Seconds after which a row that got no new text is stamped anyway."""
        return min(MAX_HEARTBEAT, HEARTBEAT_INTERVALS * self.interval)

    def start(self, answer: Answer) -> Checkpointer | None:
        """Checkpoint ``answer`` (a persisted one) until ``stop``; None when checkpoints are off."""
        if not self.enabled or answer.chat_id is None or answer.message_id is None:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="oui-checkpoint")
        return Checkpointer(self, answer, self._executor)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)


class Checkpointer:
    """Writes one answer's text so far to its row while it streams."""

    def __init__(self, owner: Checkpoints, answer: Answer, executor: ThreadPoolExecutor) -> None:
        self._owner = owner
        self._answer = answer
        self._executor = executor
        self._loop = asyncio.get_running_loop()
        self._saved_length = answer.length  # the row holds this much already (a continue's prefix)
        self._saved_at = self._loop.time()
        self._lock = asyncio.Lock()
        self._closed = False
        self.writes = 0
        self._task = self._loop.create_task(
            self._tick(), name=f"oui-checkpoint-{answer.message_id}"
        )

    async def _tick(self) -> None:
        interval, heartbeat = self._owner.interval, self._owner.heartbeat
        while not self._closed:
            await asyncio.sleep(min(interval, heartbeat))
            since = self._loop.time() - self._saved_at
            grew = self._answer.length != self._saved_length
            if (grew and since >= interval) or since >= heartbeat:
                await self.save()

    async def save(self) -> None:
        """Write the text so far now, after the write in flight if there is one (a row whose
        text did not grow is only stamped)."""
        async with self._lock:
            if self._closed:
                return
            length = self._answer.length
            text = self._answer.text() if length != self._saved_length else None
            write: Callable[..., Any] = self._owner.turns.checkpoint_message
            started = self._loop.time()
            try:
                written = await self._loop.run_in_executor(
                    self._executor, write, self._answer.chat_id, self._answer.message_id, text
                )
            except Exception:
                log.warning(
                    "oui: could not checkpoint answer %s", self._answer.message_id, exc_info=True
                )
                return
            self.writes += 1
            self._saved_length, self._saved_at = length, started
            if not written:  # finished, deleted, or judged abandoned by another server
                self._closed = True

    def stop(self) -> None:
        """No more checkpoints (the final write follows; it wins over one still in flight)."""
        self._closed = True
        self._task.cancel()


class DeadAnswerSweep:
    """Marks interrupted the answers that a dead server left ``done: false``."""

    def __init__(self, turns: TurnStore, hub: EventHub | None, stale_after: float) -> None:
        self.turns = turns
        self.hub = hub
        self.stale_after = stale_after
        self._pending: list[UnfinishedAnswer] = []
        self._recheck: asyncio.Task[Any] | None = None  # kept: the loop holds tasks weakly
        self._periodic: asyncio.Task[Any] | None = None

    def _split(
        self, answers: list[UnfinishedAnswer]
    ) -> tuple[list[UnfinishedAnswer], list[UnfinishedAnswer], float]:
        cutoff = time.time() - self.stale_after
        stale = [a for a in answers if a.updated_at < cutoff]
        marked = self.turns.interrupt(stale, cutoff) if stale else []
        fresh = [a for a in answers if a.updated_at >= cutoff]
        return marked, fresh, cutoff

    def at_start(self) -> int:
        """Mark the abandoned answers (blocking: when the database is opened, in a thread).
        Returns how many were marked; the fresher ones wait for ``schedule_recheck``."""
        marked, self._pending, _ = self._split(self.turns.unfinished_answers())
        if marked:
            log.warning(
                "oui: %d answer(s) left unfinished by a stopped server marked interrupted",
                len(marked),
            )
        return len(marked)

    def schedule_recheck(self) -> None:
        """On the event loop: check the fresh ones again once they could be stale."""
        if not self._pending:
            return
        due = max(a.updated_at for a in self._pending) + self.stale_after + RECHECK_MARGIN
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, due - time.time()), self._start_recheck)

    def _start_recheck(self) -> None:
        self._recheck = asyncio.get_running_loop().create_task(
            self.recheck(), name="oui-dead-answers"
        )

    async def recheck(self) -> list[UnfinishedAnswer]:
        """Mark those of the answers pending since start that nobody wrote meanwhile; those
        still being written belong to a live server and are left to it."""
        keys = [(a.chat_id, a.id) for a in self._pending]
        self._pending = []
        answers = await asyncio.to_thread(self.turns.unfinished_answers, keys)
        marked, _, _ = await asyncio.to_thread(self._split, answers)
        self._announce(marked)
        return marked

    def run_periodically(self, interval: float) -> None:
        """On the event loop: look for abandoned answers every ``interval`` seconds, for as
        long as the server runs. A team service's replicas need it: one that crashes leaves
        its answers to the others, which never restart to sweep them at start."""
        if self._periodic is None:
            self._periodic = asyncio.get_running_loop().create_task(
                self._sweep_forever(interval), name="oui-dead-answers-periodic"
            )

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                answers = await asyncio.to_thread(self.turns.unfinished_answers)
                marked, _, _ = await asyncio.to_thread(self._split, answers)
                self._announce(marked)
            except Exception:
                log.exception("oui: could not look for answers a stopped server left unfinished")

    def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            self._periodic = None

    def _announce(self, marked: list[UnfinishedAnswer]) -> None:
        for answer in marked:
            if self.hub is not None:
                self.hub.emit(
                    answer.user_id,
                    "chat:completion",
                    {"done": True, "content": answer.content, "interrupted": True},
                    chat_id=answer.chat_id,
                    message_id=answer.id,
                )
        if marked:
            log.warning(
                "oui: %d answer(s) left unfinished by a stopped server marked interrupted",
                len(marked),
            )
