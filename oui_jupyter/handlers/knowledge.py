"""Knowledge collection routes (``oui/api/v1/knowledge/...``), Open WebUI shapes."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import Forbidden, InvalidInput
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.retrieval import (
    KnowledgeFileForm,
    KnowledgeForm,
    KnowledgeResponse,
    KnowledgeUpdateForm,
)
from oui_jupyter.services.users import UserInfo


class KnowledgeBase(OuiHandler):
    @property
    def actor(self) -> UserInfo:
        """The caller, as services see them (``id``, ``is_admin``)."""
        return self.user


class KnowledgeListHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your collections and the shared ones", response=list[KnowledgeResponse])
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.knowledge.list(self.actor))


class KnowledgeCreateHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Create a collection", body=KnowledgeForm, response=KnowledgeResponse)
    }

    @web.authenticated
    @authorized
    def post(self) -> None:
        form = self.parse_body(KnowledgeForm)
        data = (
            None
            if form.data is None
            else {"file_ids": form.data.file_ids, "paths": form.data.paths}
        )
        self.write_json(
            self.services.knowledge.create(
                self.actor,
                form.name,
                form.description,
                data=data,
                shared=form.shared,
                access_control=form.access_control,
            )
        )


class KnowledgeReindexHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Re-process every collection's files and rescan the workspace (admins)", response=bool
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if not self.user.is_admin:
            raise Forbidden("Only admins may reindex everything")
        await asyncio.to_thread(self.services.knowledge.reindex, self.services.files)
        self.write_json(True)


class KnowledgeHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("A collection with its files", response=KnowledgeResponse),
        "delete": Operation("Delete a collection (not its files)", response=bool),
    }

    @web.authenticated
    @authorized
    def get(self, knowledge_id: str) -> None:
        self.write_json(self.services.knowledge.get(knowledge_id, self.actor))

    @web.authenticated
    @authorized
    def delete(self, knowledge_id: str) -> None:
        self.write_json(self.services.knowledge.delete(knowledge_id, self.actor))


class KnowledgeDeleteHandler(KnowledgeHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation("Delete a collection (not its files)", response=bool)
    }


class KnowledgeUpdateHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Rename, describe or share a collection",
            body=KnowledgeUpdateForm,
            response=KnowledgeResponse,
        )
    }

    @web.authenticated
    @authorized
    def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeUpdateForm)
        self.write_json(
            self.services.knowledge.update(
                knowledge_id,
                self.actor,
                name=form.name,
                description=form.description,
                shared=form.shared,
                access_control=form.access_control,
            )
        )


def _members(form: KnowledgeFileForm) -> dict:
    if not form.file_id and not form.path:
        raise InvalidInput("give file_id (an upload) or path (a workspace file or folder)")
    return {
        "file_ids": [form.file_id] if form.file_id else [],
        "paths": [form.path] if form.path else [],
    }


class KnowledgeFileAddHandler(KnowledgeBase):
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
    def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeFileForm)
        self.write_json(self.services.knowledge.add(knowledge_id, self.actor, **_members(form)))


class KnowledgeFileRemoveHandler(KnowledgeBase):
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
    def post(self, knowledge_id: str) -> None:
        form = self.parse_body(KnowledgeFileForm)
        self.write_json(self.services.knowledge.remove(knowledge_id, self.actor, **_members(form)))


class KnowledgeResetHandler(KnowledgeBase):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Empty a collection", response=KnowledgeResponse)
    }

    @web.authenticated
    @authorized
    def post(self, knowledge_id: str) -> None:
        self.write_json(self.services.knowledge.reset(knowledge_id, self.actor))
