"""Retrieval routes (``oui/api/v1/retrieval/...``): status, config, query, process."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import Forbidden
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.retrieval import (
    ProcessFileForm,
    ProcessResult,
    ProcessTextForm,
    QueryCollectionForm,
    QueryDocForm,
    QueryResult,
    RetrievalConfigBody,
    RetrievalStatus,
    SearchFilters,
)
from oui_jupyter.services import authz
from oui_jupyter.services.retrieval.names import private_collection


def _mode(mode: str | None, hybrid: bool | None) -> str | None:
    if mode:
        return mode
    if hybrid is None:
        return None
    return "hybrid" if hybrid else "vector"


def _filters(f: SearchFilters | None) -> dict | None:
    return None if f is None else {"path": f.path, "file_type": f.file_type}


class RetrievalHandler(OuiHandler):
    async def answer_query(
        self, names: list[str], form: QueryCollectionForm | QueryDocForm
    ) -> None:
        result = await asyncio.to_thread(
            self.retrieval.query,
            names,
            form.query,
            form.k,
            filters=_filters(form.filter),
            mode=_mode(form.mode, form.hybrid),
            user=self.user,
        )
        self.write_json(result)


class RetrievalStatusHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Workspace index: files/chunks indexed, embedded, pending; model",
            response=RetrievalStatus,
        )
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.retrieval.status())


class RetrievalConfigHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Chunking, embedding engine/model, top_k, hybrid", response=RetrievalConfigBody
        )
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.retrieval.get_config())


class RetrievalConfigUpdateHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change retrieval settings (admins; none named: 422); a new model re-embeds in "
            "the background",
            body=RetrievalConfigBody,
            response=RetrievalConfigBody,
            body_needs_one_of=RetrievalConfigBody.__struct_fields__,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse_body(RetrievalConfigBody)
        authz.require_admin(self.user, "Only admins may change retrieval settings")
        changes = {
            k: getattr(body, k) for k in body.__struct_fields__ if getattr(body, k) is not None
        }
        self.write_json(await asyncio.to_thread(self.retrieval.update_config, changes))


class QueryCollectionHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Search collections (`workspace`, knowledge ids, `file-<id>`): hybrid by default",
            body=QueryCollectionForm,
            response=QueryResult,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(QueryCollectionForm)
        await self.answer_query(form.collection_names, form)


class QueryDocHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Search one collection", body=QueryDocForm, response=QueryResult)
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(QueryDocForm)
        await self.answer_query([form.collection_name], form)


class ProcessTextHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Add a text to a collection (default: a new one named after the text)",
            body=ProcessTextForm,
            response=ProcessResult,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(ProcessTextForm)
        collection = form.collection_name or f"text-{form.name}"[:255]
        if collection == "workspace":
            raise Forbidden("the workspace collection is built from the server's files")
        res = await asyncio.to_thread(
            self.retrieval.process_text,
            private_collection(self.user.id, collection),
            form.content,
            name=form.name,
        )
        self.write_json(
            {
                "status": True,
                "collection_name": collection,
                "filename": form.name,
                "chunks": res["chunks"],
            }
        )


class ProcessFileHandler(RetrievalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Index an uploaded file (into `file-<id>` or the named collection)",
            body=ProcessFileForm,
            response=ProcessResult,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(ProcessFileForm)
        if form.collection_name == "workspace":
            raise Forbidden("the workspace collection is built from the server's files")
        named = form.collection_name
        res = await asyncio.to_thread(
            self.files.process,
            form.file_id,
            self.user,
            private_collection(self.user.id, named) if named else None,
        )
        self.write_json(
            {
                "status": True,
                "collection_name": named or res["collection"],
                "filename": res["source"],
                "chunks": res["chunks"],
            }
        )
