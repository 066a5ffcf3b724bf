"""Running generations: one per answer being written, stoppable by chat.

Every persisted generation registers here while it runs, whether its caller streams it over
HTTP or it runs as a live server task. ``overlay`` is added to ``ChatService.overlays`` so a
chat read mid-stream shows the partial answer without a write per token.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Running(Protocol):
    user_id: str
    chat_id: str | None
    message_id: str | None
    task_id: str

    def partial(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


class TaskRegistry:
    def __init__(self) -> None:
        self._by_chat: dict[str, dict[str, Running]] = defaultdict(dict)
        self._tasks: dict[str, asyncio.Task[Any]] = {}

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

    def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
