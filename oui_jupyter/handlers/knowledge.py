"""Knowledge collection routes (``oui/api/v1/knowledge/...``), Open WebUI shapes."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import InvalidInput
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.retrieval import (
    KnowledgeFileForm,
    KnowledgeForm,
    KnowledgeResponse,
    KnowledgeUpdateForm,
)


class KnowledgeListHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your collections and the shared ones", response=list[KnowledgeResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.knowledge.list(self.user)))


class KnowledgeCreateHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Create a collection", body=KnowledgeForm, response=KnowledgeResponse)
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(KnowledgeForm)
        data = (
            None
            if form.data is None
            else {"file_ids": form.data.file_ids, "paths": form.data.paths}
        )
        self.write_json(
            await self.off_loop(
                lambda: self.knowledge.create(
                    self.user,
                    form.name,
                    form.description,
                    data=data,
                    shared=form.shared,
                    access_control=form.access_control,
                )
            )
        )


class KnowledgeReindexHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Re-process every collection's files and rescan the workspace (admins)", response=bool
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        # long work: a plain thread (``off_loop`` pauses the collector, for request-sized work)
        await asyncio.to_thread(self.knowledge.reindex, self.user, self.files)
        self.write_json(True)


class KnowledgeHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("A collection with its files", response=KnowledgeResponse),
        "delete": Operation("Delete a collection (not its files)", response=bool),
    }

    @web.authenticated
    @authorized
    async def get(self, knowledge_id: str) -> None:
        self.write_json(await self.off_loop(lambda: self.knowledge.get(knowledge_id, self.user)))

    @web.authenticated
    @authorized
    async def delete(self, knowledge_id: str) -> None:
        self.write_json(await self.off_loop(lambda: self.knowledge.delete(knowledge_id, self.user)))


class KnowledgeDeleteHandler(KnowledgeHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation("Delete a collection (not its files)", response=bool)
    }


class KnowledgeUpdateHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Rename, describe or share a collection",
            body=KnowledgeUpdateForm,
            response=KnowledgeResponse,
        )
    }

    @web.authenticated
    @authorized
    async def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeUpdateForm)
        self.write_json(
            await self.off_loop(
                lambda: self.knowledge.update(
                    knowledge_id,
                    self.user,
                    name=form.name,
                    description=form.description,
                    shared=form.shared,
                    access_control=form.access_control,
                )
            )
        )


def _members(form: KnowledgeFileForm) -> dict:
    if not form.file_id and not form.path:
        raise InvalidInput("give file_id (an upload) or path (a workspace file or folder)")
    return {
        "file_ids": [form.file_id] if form.file_id else [],
        "paths": [form.path] if form.path else [],
    }


class KnowledgeFileAddHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Add an upload or a workspace path",
            body=KnowledgeFileForm,
            response=KnowledgeResponse,
            body_needs_one_of=("file_id", "path"),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeFileForm)
        members = _members(form)
        self.write_json(
            await self.off_loop(lambda: self.knowledge.add(knowledge_id, self.user, **members))
        )


class KnowledgeFileRemoveHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Remove an upload or a workspace path",
            body=KnowledgeFileForm,
            response=KnowledgeResponse,
            body_needs_one_of=("file_id", "path"),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeFileForm)
        members = _members(form)
        self.write_json(
            await self.off_loop(lambda: self.knowledge.remove(knowledge_id, self.user, **members))
        )


class KnowledgeResetHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Empty a collection", response=KnowledgeResponse)
    }

    @web.authenticated
    @authorized
    async def post(self, knowledge_id: str) -> None:
        self.write_json(await self.off_loop(lambda: self.knowledge.reset(knowledge_id, self.user)))
