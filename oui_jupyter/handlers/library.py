"""The prompt library (``v1/prompts/...``), memories (``v1/memories/...``) and the user's own
settings (``v1/users/user/settings``), Open WebUI's routes and shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.library import (
    MemoryForm,
    MemoryQueryForm,
    MemoryQueryResponse,
    MemoryResponse,
    PromptForm,
    PromptResponse,
    PromptUserResponse,
)

if TYPE_CHECKING:  # built after start: not imported at extension load
    from oui_jupyter.services.memories import MemoryService
    from oui_jupyter.services.prompts import PromptService

_HIDDEN = "a prompt you may not read answers 404, as one that does not exist"


class PromptHandler(OuiHandler):
    @property
    def prompts(self) -> PromptService:
        return self.services.prompts


class PromptsHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "The prompts you may use (yours, everyone's and those shared with you or your "
            "groups), newest first",
            response=list[PromptResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.prompts.readable(self.user))


class PromptListHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "The prompts you may edit, with their authors, newest first",
            response=list[PromptUserResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.prompts.writable(self.user))


class CreatePromptHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Add a prompt under a new `/command` (409: the command is taken); "
            "`access_control` left out: yours only",
            body=PromptForm,
            response=PromptResponse,
            statuses=(409, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        prompts = self.prompts
        await self.write_json_off_loop(
            lambda form: prompts.create(self.user, form), body=PromptForm
        )


class CommandHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            f"The prompt of `/command` ({_HIDDEN})", response=PromptResponse, statuses=(404,)
        )
    }

    @web.authenticated
    @authorized
    async def get(self, command: str) -> None:
        await self.write_json_off_loop(lambda: self.prompts.get(self.user, command))


class UpdateCommandHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change a prompt's title, content and (author or admin) access; the body's "
            f"`command` must be the path's ({_HIDDEN}; 403: read-only to you)",
            body=PromptForm,
            response=PromptResponse,
            statuses=(403, 404, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, command: str) -> None:
        prompts = self.prompts
        await self.write_json_off_loop(
            lambda form: prompts.update(self.user, command, form), body=PromptForm
        )


class DeleteCommandHandler(PromptHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation(
            f"Delete a prompt (its author or an admin; {_HIDDEN})",
            response=bool,
            statuses=(403, 404),
        )
    }

    @web.authenticated
    @authorized
    async def delete(self, command: str) -> None:
        await self.write_json_off_loop(lambda: self.prompts.delete(self.user, command))


# ----- memories -----
class MemoryHandler(OuiHandler):
    @property
    def memories(self) -> MemoryService:
        return self.services.memories


class MemoriesHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your memories, oldest first", response=list[MemoryResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.memories.mine(self.user))


class AddMemoryHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Remember a fact (413: you keep the most memories allowed)",
            body=MemoryForm,
            response=MemoryResponse,
            statuses=(413, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        memories = self.memories
        await self.write_json_off_loop(
            lambda form: memories.add(self.user, form.content), body=MemoryForm
        )


class QueryMemoryHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Your `k` memories nearest `content` (keywords, and meaning once the embedding "
            "model is loaded); 404: you have none",
            body=MemoryQueryForm,
            response=MemoryQueryResponse,
            statuses=(404, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        memories = self.memories
        await self.write_json_off_loop(
            lambda form: memories.query(self.user, form.content, form.k or 1),
            body=MemoryQueryForm,
        )


class ResetMemoriesHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Embed your memories again (on their next use)", response=bool)
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.write_json_off_loop(lambda: self.memories.reset(self.user))


class DeleteUserMemoriesHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation("Forget all your memories", response=bool)
    }

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        await self.write_json_off_loop(lambda: self.memories.delete_all(self.user))


class UpdateMemoryHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change one of your memories (404: not yours or none)",
            body=MemoryForm,
            response=MemoryResponse,
            statuses=(404, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, memory_id: str) -> None:
        memories = self.memories
        await self.write_json_off_loop(
            lambda form: memories.update(self.user, memory_id, form.content), body=MemoryForm
        )


class MemoryByIdHandler(MemoryHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation(
            "Forget one of your memories (404: not yours or none)",
            response=bool,
            statuses=(404,),
        )
    }

    @web.authenticated
    @authorized
    async def delete(self, memory_id: str) -> None:
        await self.write_json_off_loop(lambda: self.memories.delete(self.user, memory_id))


# ----- the user's own settings -----
class UserSettingsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Your settings (Open WebUI's: `ui.memory` turns memories on)",
            response=dict[str, Any],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.users.settings(self.user))


class UpdateUserSettingsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Replace your settings (an object; `ui` an object; at most 64 KiB of JSON)",
            body=dict[str, Any],
            response=dict[str, Any],
            statuses=(413, 422),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        users = self.users
        await self.write_json_off_loop(
            lambda settings: users.update_settings(self.user, settings), body=dict[str, Any]
        )
