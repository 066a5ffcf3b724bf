"""Running generations of a chat: list and stop."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.completions import StopResponse, TaskListResponse


class ChatTasksHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Generations running in this chat", response=TaskListResponse)
    }

    @web.authenticated
    @authorized
    async def get(self, chat_id: str) -> None:
        running = await self.services.tasks.running_everywhere(self.user.id, chat_id)
        self.write_json(TaskListResponse(task_ids=running))


class StopChatTaskHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Stop the generations running in this chat (the partial answer is saved, marked stopped)",
            response=StopResponse,
        )
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        stopped = await self.services.tasks.stop_everywhere(self.user.id, chat_id)
        self.write_json(StopResponse(status=bool(stopped), task_ids=stopped))
