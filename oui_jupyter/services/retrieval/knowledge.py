"""Knowledge collections: named sets of uploaded files and workspace paths.

Their chunks are not copied: an upload's chunks live in the index collection
``file-<id>``, a workspace path's in ``workspace``; querying a collection is a filter
over those (:meth:`KnowledgeService.resolve`, the retrieval service's resolver).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import UNSET

from ...errors import Forbidden, InvalidInput, NotFound
from ...store.index_types import SearchFilter
from ...store.knowledge_store import KnowledgeStore
from ...store.orm import Knowledge
from .. import authz
from ..users import UserInfo
from .files import FileService, readable_file
from .names import file_collection, private_collection
from .service import RetrievalService


def file_summary(f: Any) -> dict:
    return {
        "id": f.id,
        "meta": {
            **(f.meta or {}),
            "name": f.filename,
            "content_type": f.content_type,
            "size": f.size,
        },
        "status": f.status,
        "created_at": int(f.created_at),
        "updated_at": int(f.updated_at),
    }


class KnowledgeService:
    def __init__(self, store: KnowledgeStore, retrieval: RetrievalService) -> None:
        self.store = store
        self.retrieval = retrieval

    def to_dict(self, row: Knowledge, with_files: bool = True) -> dict:
        data = row.data or {}
        out = {
            "id": row.id,
            "user_id": row.user_id,
            "name": row.name,
            "description": row.description,
            "data": {
                "file_ids": list(data.get("file_ids", [])),
                "paths": list(data.get("paths", [])),
            },
            "meta": row.meta or {},
            # Open WebUI's reading: null is everyone's, {} the owner's only
            "access_control": None if row.shared else (row.access_control or {}),
            "shared": row.shared,
            "created_at": int(row.created_at),
            "updated_at": int(row.updated_at),
        }
        if with_files:
            files = []
            for fid in data.get("file_ids", []):
                try:
                    files.append(file_summary(self.store.get_file(fid)))
                except NotFound:
                    continue
            out["files"] = files
        return out

    # ----- CRUD -----
    def create(
        self,
        user: UserInfo,
        name: str,
        description: str = "",
        *,
        data: dict | None = None,
        shared: bool = False,
        access_control: Any = UNSET,
    ) -> dict:
        """``access_control``: ``None`` is Open WebUI's "everyone" (``shared``); left out, the
        collection is its owner's (with ``shared`` as given)."""
        if not name.strip():
            raise InvalidInput("name must not be empty")
        if access_control is None:
            shared = True
        elif access_control is UNSET:
            access_control = None
        for path in (data or {}).get("paths") or []:
            self._check_path(path)  # refused before anything is stored
        row = self.store.create(
            user.id,
            name.strip(),
            description,
            data=None,
            access_control=authz.validate_access_control(access_control),
            shared=shared,
        )
        if data and (data.get("file_ids") or data.get("paths")):
            return self.add(
                row.id, user, file_ids=data.get("file_ids") or [], paths=data.get("paths") or []
            )
        return self.to_dict(row)

    def _readable(self, knowledge_id: str, user: UserInfo) -> Knowledge:
        row = self.store.find(knowledge_id)
        if row is None or not authz.can_read(user, row, public=row.shared):
            raise NotFound(f"Knowledge {knowledge_id} not found")
        return row

    def _writable(self, knowledge_id: str, user: UserInfo) -> Knowledge:
        row = self._readable(knowledge_id, user)
        if not authz.can_write(user, row):
            raise Forbidden("Only the owner may change this collection")
        return row

    def list(self, user: UserInfo) -> list[dict]:
        """The user's collections, the shared ones and those granted to them or their groups."""
        return [
            self.to_dict(r)
            for r in self.store.list(authz.list_scope(user))
            if authz.can_read(user, r, public=r.shared)
        ]

    def get(self, knowledge_id: str, user: UserInfo) -> dict:
        return self.to_dict(self._readable(knowledge_id, user))

    def update(self, knowledge_id: str, user: UserInfo, **changes: Any) -> dict:
        access = changes.pop("access_control", UNSET)
        changes = {k: v for k, v in changes.items() if v is not None}
        if "name" in changes and not str(changes["name"]).strip():
            raise InvalidInput("name must not be empty")
        if access is None:  # Open WebUI's null: everyone on the team
            changes.update(shared=True, access_control=None)
        elif access is not UNSET:  # an object: only those it grants (and not everyone)
            changes["access_control"] = authz.validate_access_control(access)
            changes.setdefault("shared", False)
        row = self._writable(knowledge_id, user)
        changes_access = changes.get("access_control", row.access_control) != row.access_control
        if (changes_access or changes.get("shared", row.shared) != row.shared) and not (
            authz.can_manage(user, row)
        ):
            raise Forbidden("Only the collection's owner or an admin may change who has access")
        return self.to_dict(self.store.update(knowledge_id, **changes))

    def delete(self, knowledge_id: str, user: UserInfo) -> bool:
        if not authz.can_manage(user, self._writable(knowledge_id, user)):
            raise Forbidden("Only the collection's owner or an admin may delete it")
        self.store.delete(knowledge_id)
        return True

    def reset(self, knowledge_id: str, user: UserInfo) -> dict:
        row = self._readable(knowledge_id, user)
        data = row.data or {}
        return self.remove(
            knowledge_id, user, file_ids=data.get("file_ids", []), paths=data.get("paths", [])
        )

    # ----- members -----
    def _check_path(self, path: str) -> str:
        if "\x00" in path:
            raise InvalidInput("path may not contain NUL characters")
        abs_path = self.retrieval.workspace.resolve(path)
        if abs_path is None:
            raise InvalidInput(f"path is outside the workspace: {path}")
        import os

        if not os.path.exists(abs_path):
            raise NotFound(f"no such file or folder in the workspace: {path}")
        rel = self.retrieval.workspace.rel(abs_path)
        return rel + "/" if os.path.isdir(abs_path) and not rel.endswith("/") else rel

    def add(
        self,
        knowledge_id: str,
        user: UserInfo,
        *,
        file_ids: Sequence[str] = (),
        paths: Sequence[str] = (),
    ) -> dict:
        for fid in file_ids:
            readable_file(self.store, fid, user)  # NotFound unless readable
        rels = [self._check_path(p) for p in paths]
        self._writable(knowledge_id, user)
        row = self.store.update_data(knowledge_id, add_files=list(file_ids), add_paths=rels)
        for rel in rels:
            if not rel.endswith("/"):
                self.retrieval.notify_path(rel)
        return self.to_dict(row)

    def remove(
        self,
        knowledge_id: str,
        user: UserInfo,
        *,
        file_ids: Sequence[str] = (),
        paths: Sequence[str] = (),
    ) -> dict:
        rels = [p.replace("\\", "/").lstrip("/") for p in paths]
        self._writable(knowledge_id, user)
        row = self.store.update_data(knowledge_id, remove_files=list(file_ids), remove_paths=rels)
        return self.to_dict(row)

    def reindex(self, user: UserInfo, files_service: FileService) -> dict:
        """Re-process every uploaded file of every collection (admins), and rescan the
        workspace."""
        authz.require_admin(user, "Only admins may reindex everything")
        count = 0
        for row in self.store.list_all():
            for fid in (row.data or {}).get("file_ids", []):
                try:
                    files_service.process(fid, None)
                    count += 1
                except (NotFound, InvalidInput):
                    continue
        self.retrieval.indexer.rescan()
        return {"files": count}

    # ----- the retrieval resolver -----
    def resolve(self, name: str, user: UserInfo | None) -> SearchFilter | None:
        """What a collection name means for ``user``: a knowledge id, ``file-<id>``, or
        the user's own named collection (``None``, the raw index collection, without a user).
        A search sees what ``authz.can_search`` lets it."""
        if name.startswith("file-"):
            fid = name[len("file-") :]
            try:
                readable_file(self.store, fid, user, search=True)
            except NotFound:
                if user is None:
                    return None
                raise
            return SearchFilter(collections=[name])
        row = self.store.find(name)
        if row is None:
            return (
                None
                if user is None
                else SearchFilter(collections=[private_collection(user.id, name)])
            )
        if user is not None and not authz.can_search(user, row, public=row.shared):
            raise NotFound(f"Knowledge {name} not found")
        data = row.data or {}
        sources: list[str] = []
        for p in data.get("paths", []):
            if p.endswith("/"):
                # a folder: every indexed workspace file under it
                sources.extend(
                    s for s in self.retrieval.store.sources("workspace") if s.startswith(p)
                )
            else:
                sources.append(p)
        flt = SearchFilter(
            collections=[file_collection(f) for f in data.get("file_ids", [])], sources=sources
        )
        if not flt.collections and not flt.sources:
            flt.collections = ["\x00empty"]  # matches nothing
        return flt
