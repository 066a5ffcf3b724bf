"""Folder routes (Open WebUI ``/api/v1/folders/...``)."""

from __future__ import annotations

from typing import ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.chats import FolderForm, FolderResponse, FolderUpdateForm


class FoldersHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your folders", response=list[FolderResponse]),
        "post": Operation(
            "Create a folder (409: the name is taken there)",
            body=FolderForm,
            response=FolderResponse,
            statuses=(409,),
        ),
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.chats.folders(self.user)))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(FolderForm)
        self.write_json(
            await self.off_loop(
                lambda: self.chats.create_folder(self.user, form.name, form.parent_id)
            )
        )


class FolderHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Read a folder", response=FolderResponse),
        "post": Operation(
            "Rename, move or expand a folder (409: the name is taken, or a move into itself)",
            body=FolderUpdateForm,
            response=FolderResponse,
            statuses=(409,),
        ),
        "delete": Operation(
            "Delete a folder (its chats leave it; sub-folders go too)", response=bool
        ),
    }

    @web.authenticated
    @authorized
    async def get(self, folder_id: str) -> None:
        self.write_json(await self.off_loop(lambda: self.chats.folder(self.user, folder_id)))

    @web.authenticated
    @authorized
    async def post(self, folder_id: str) -> None:
        form = self.parse_body(FolderUpdateForm)
        fields = {k: v for k, v in msgspec.structs.asdict(form).items() if v is not None}
        self.write_json(
            await self.off_loop(lambda: self.chats.update_folder(self.user, folder_id, **fields))
        )

    @web.authenticated
    @authorized
    async def delete(self, folder_id: str) -> None:
        await self.off_loop(lambda: self.chats.delete_folder(self.user, folder_id))
        self.write_json(True)
