"""Running generations: one per answer being written, stoppable by chat.

Every persisted generation registers here while it runs, whether its caller streams it over
HTTP or it runs as a live server task. ``overlay`` is added to ``ChatService.overlays`` so a
chat read mid-stream shows the partial answer without a write per token.

With a ``bus`` (the team service's replicas: ``oui_jupyter.team.bus``), ``stop_everywhere``
and ``running_everywhere`` also ask the other replicas: a turn runs in the replica that
started it, and a stop or a listing may come to any of them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Running(Protocol):
    user_id: str
    chat_id: str | None
    message_id: str | None
    task_id: str

    def partial(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


class Peers(Protocol):
    async def gather(self, kind: str, header: dict[str, Any]) -> list[dict[str, Any]]:
        """Ask every other replica; their replies."""


class TaskRegistry:
    def __init__(self) -> None:
        self._by_chat: dict[str, dict[str, Running]] = defaultdict(dict)
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self.bus: Peers | None = None

    def register(self, generation: Running) -> None:
        if generation.chat_id and generation.message_id:
            self._by_chat[generation.chat_id][generation.message_id] = generation

    def unregister(self, generation: Running) -> None:
        if generation.chat_id and generation.message_id:
            running = self._by_chat.get(generation.chat_id)
            if running is not None:
                running.pop(generation.message_id, None)
                if not running:
                    del self._by_chat[generation.chat_id]

    def overlay(self, chat_id: str) -> dict[str, dict[str, Any]]:
        running = self._by_chat.get(chat_id)
        if not running:
            return {}
        return {message_id: g.partial() for message_id, g in list(running.items())}

    def spawn(self, coroutine: Coroutine[Any, Any, Any], task_id: str | None = None) -> str:
        """Run ``coroutine`` as a server task that outlives the request that started it."""
        task_id = task_id or str(uuid.uuid4())
        task = asyncio.get_running_loop().create_task(coroutine, name=f"oui-task-{task_id}")
        self._tasks[task_id] = task
        task.add_done_callback(lambda t: self._done(task_id, t))
        return task_id

    def when_done(self, task_ids: list[str], callback: Callable[[], Any]) -> None:
        """Call ``callback`` once all these tasks have ended (at once when none runs)."""
        tasks = [self._tasks[t] for t in task_ids if t in self._tasks]
        left = len(tasks)
        if not left:
            callback()
            return

        def one_done(_: asyncio.Task[Any]) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                callback()

        for task in tasks:
            task.add_done_callback(one_done)

    def _done(self, task_id: str, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("oui: task %s failed", task_id, exc_info=task.exception())

    def running(self, user_id: str, chat_id: str) -> list[Running]:
        return [g for g in self._by_chat.get(chat_id, {}).values() if g.user_id == user_id]

    def stop_chat(self, user_id: str, chat_id: str) -> list[str]:
        """Stop every generation of this user's chat; returns their task ids."""
        stopped = []
        for generation in self.running(user_id, chat_id):
            generation.stop()
            stopped.append(generation.task_id)
        return stopped

    async def stop_everywhere(self, user_id: str, chat_id: str) -> list[str]:
        """``stop_chat`` here and in every other replica; all the task ids stopped."""
        stopped = self.stop_chat(user_id, chat_id)
        if self.bus is not None:
            for reply in await self.bus.gather("stop", {"u": user_id, "c": chat_id}):
                stopped.extend(str(t) for t in reply.get("t") or ())
        return stopped

    async def running_everywhere(self, user_id: str, chat_id: str) -> list[str]:
        """The task ids of the user's generations in this chat, in every replica."""
        running = [g.task_id for g in self.running(user_id, chat_id)]
        if self.bus is not None:
            for reply in await self.bus.gather("tasks", {"u": user_id, "c": chat_id}):
                running.extend(str(t) for t in reply.get("t") or ())
        return running

    def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
