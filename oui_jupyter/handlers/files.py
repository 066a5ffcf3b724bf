"""Uploaded file routes (``oui/api/v1/files/...``), Open WebUI shapes."""

from __future__ import annotations

import asyncio
from typing import ClassVar
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import InvalidInput, PayloadTooLarge
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.retrieval import (
    FileResponse,
    FileStatusResponse,
    MessageResponse,
    UploadQuery,
)


class FilesHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your uploads", response=list[FileResponse]),
        "post": Operation(
            "Upload a file (multipart field `file`); it is indexed in the background",
            query=UploadQuery,
            response=FileResponse,
            body_type="multipart/form-data",
            body_schema={
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
                "additionalProperties": False,
            },
        ),
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await asyncio.to_thread(self.files.list, self.user))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        query = self.parse_query(UploadQuery)
        limit = self.files.max_upload_size
        if len(self.request.body or b"") > limit + 64 * 1024:
            raise PayloadTooLarge(f"the upload is over the limit of {limit} bytes")
        uploads = self.request.files.get("file") or []
        if len(uploads) != 1:
            raise InvalidInput("send exactly one multipart field named 'file'")
        up = uploads[0]
        result = await asyncio.to_thread(
            self.files.upload,
            self.user,
            up["filename"],
            up["body"],
            up.get("content_type", ""),
            process=query.process,
        )
        self.write_json(result)


class FileHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("One upload", response=FileResponse),
        "delete": Operation(
            "Delete an upload, its chunks and its place in collections", response=MessageResponse
        ),
    }

    @web.authenticated
    @authorized
    async def get(self, file_id: str) -> None:
        self.write_json(await asyncio.to_thread(self.files.get, file_id, self.user))

    @web.authenticated
    @authorized
    async def delete(self, file_id: str) -> None:
        await asyncio.to_thread(self.files.delete, file_id, self.user)
        self.write_json({"message": "File deleted successfully"})


class FileContentHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The uploaded bytes", content_type="application/octet-stream")
    }

    @web.authenticated
    @authorized
    async def get(self, file_id: str) -> None:
        data, content_type, filename = await asyncio.to_thread(
            self.files.content, file_id, self.user
        )
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}")
        self.set_header("X-Content-Type-Options", "nosniff")
        # APIHandler.finish would say application/json
        self.finish(data, set_content_type=content_type or "application/octet-stream")


class FileStatusHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Processing status of an upload", response=FileStatusResponse)
    }

    @web.authenticated
    @authorized
    async def get(self, file_id: str) -> None:
        self.write_json(await asyncio.to_thread(self.files.status, file_id, self.user))
