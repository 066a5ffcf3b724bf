"""Uploaded files: their bytes under the data dir (or in the team database: ``DbBlobs``),
processed into the index in the background."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Protocol

from ...errors import InvalidInput, NotFound, PayloadTooLarge
from ...store.knowledge_store import KnowledgeStore
from ...store.orm import File
from .. import authz
from ..users import UserInfo
from .names import file_collection
from .service import RetrievalService

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_to_dict(f: Any) -> dict:
    """Open WebUI's FileModelResponse shape."""
    return {
        "id": f.id,
        "user_id": f.user_id,
        "hash": f.hash,
        "filename": f.filename,
        "data": {**(f.data or {}), "status": f.status, **({"error": f.error} if f.error else {})},
        "meta": {
            **(f.meta or {}),
            "name": f.filename,
            "content_type": f.content_type,
            "size": f.size,
            "collection_name": file_collection(f.id),
        },
        "created_at": int(f.created_at),
        "updated_at": int(f.updated_at),
    }


def readable_file(
    store: KnowledgeStore, file_id: str, user: UserInfo | None, *, search: bool = False
) -> File:
    """The upload if ``user`` may read it (``None``: no check): theirs, or in a collection
    they may read. ``search``: as a retrieval for them sees it (``authz.can_search``)."""
    row = store.get_file(file_id)
    if user is None:
        return row
    check = authz.can_search if search else authz.can_read
    if check(user, row):
        return row
    if any(check(user, k, public=k.shared) for k in store.collections_with_file(file_id)):
        return row
    raise NotFound(f"File {file_id} not found")


class Blobs(Protocol):
    """Where uploads' bytes are kept; ``File.path`` says where one is."""

    def put(self, file_id: str, name: str, data: bytes) -> str:
        """Keep ``data``; returns the path to record."""
        ...

    def get(self, path: str) -> bytes:
        """The bytes at ``path`` (``OSError`` or ``KeyError`` when gone)."""
        ...

    def remove(self, path: str) -> None: ...


class DiskBlobs:
    """Files under ``upload_dir`` (single-user servers)."""

    def __init__(self, upload_dir: str) -> None:
        self.upload_dir = upload_dir

    def put(self, file_id: str, name: str, data: bytes) -> str:
        os.makedirs(self.upload_dir, exist_ok=True)
        path = os.path.join(self.upload_dir, f"{file_id}_{_SAFE.sub('_', name)[:150]}")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def get(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError:
            pass


class FileService:
    def __init__(
        self,
        store: KnowledgeStore,
        retrieval: RetrievalService,
        upload_dir: str,
        *,
        max_upload_size: int = 50 * 1024 * 1024,
        executor: Executor | None = None,
        blobs: Blobs | None = None,
    ) -> None:
        """``blobs``: where the bytes go (default: files under ``upload_dir``)."""
        self.store = store
        self.retrieval = retrieval
        self.upload_dir = upload_dir
        self.blobs: Blobs = blobs or DiskBlobs(upload_dir)
        self.max_upload_size = max_upload_size
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="oui-files"
        )

    def close(self) -> None:
        if isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)

    def upload(
        self,
        user: UserInfo,
        filename: str,
        data: bytes,
        content_type: str = "",
        *,
        process: bool = True,
        meta: dict | None = None,
    ) -> dict:
        if len(data) > self.max_upload_size:
            raise PayloadTooLarge(
                f"the file is {len(data)} bytes; the limit is {self.max_upload_size}"
            )
        name = os.path.basename((filename or "").replace("\\", "/")).strip()
        if not name:
            raise InvalidInput("the upload has no file name")
        file_id = str(uuid.uuid4())
        path = self.blobs.put(file_id, name, data)
        row = self.store.add_file(
            user.id,
            file_id=file_id,
            filename=name,
            path=path,
            hash=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_type=content_type or "application/octet-stream",
            meta=meta,
            status="pending" if process else "completed",
        )
        if process:
            self._executor.submit(self._process_quietly, file_id)
        return file_to_dict(row)

    def _process_quietly(self, file_id: str) -> None:
        try:
            self.process(file_id, None)
        except Exception:  # status says failed; the log has the rest
            log.debug("processing upload %s failed", file_id, exc_info=True)

    def process(self, file_id: str, user: UserInfo | None, collection: str | None = None) -> dict:
        """(Re)index an upload into ``collection`` (default ``file-<id>``); blocking.
        ``user``: the caller, who must be able to read it (``None``: the server itself)."""
        row = readable_file(self.store, file_id, user)
        self.store.set_file_status(file_id, "pending")
        try:
            data = self.blobs.get(row.path)
            result = self.retrieval.process_file(
                collection or file_collection(file_id),
                data,
                row.filename,
                metadata={"file_id": file_id, "name": row.filename},
            )
        except InvalidInput as e:
            self.store.set_file_status(file_id, "failed", e.message)
            raise
        except Exception as e:
            self.store.set_file_status(file_id, "failed", str(e) or type(e).__name__)
            raise
        self.store.set_file_status(file_id, "completed", None, {"chunks": result["chunks"]})
        return {**result, "file_id": file_id}

    def list(self, user: UserInfo) -> list[dict]:
        return [file_to_dict(f) for f in self.store.list_files(authz.list_scope(user))]

    def get(self, file_id: str, user: UserInfo) -> dict:
        return file_to_dict(readable_file(self.store, file_id, user))

    def status(self, file_id: str, user: UserInfo) -> dict:
        f = readable_file(self.store, file_id, user)
        return {
            "status": f.status,
            **({"error": f.error} if f.error else {}),
            "chunks": (f.data or {}).get("chunks"),
        }

    def content(self, file_id: str, user: UserInfo) -> tuple[bytes, str, str]:
        f = readable_file(self.store, file_id, user)
        try:
            return self.blobs.get(f.path), f.content_type, f.filename
        except (OSError, KeyError):
            raise NotFound(f"the content of file {file_id} is gone") from None

    def delete(self, file_id: str, user: UserInfo) -> bool:
        row = self.store.get_file(file_id)
        if not authz.can_write(user, row):
            raise NotFound(f"File {file_id} not found")
        f = self.store.delete_file(file_id)
        for k in self.store.collections_with_file(file_id):
            self.store.update_data(k.id, remove_files=[file_id])
        self.blobs.remove(f.path)
        self.retrieval.delete_collection(file_collection(file_id))
        return True
