"""Build the retrieval services in one call (used by ``app.build_services``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .service import RetrievalConfig, RetrievalService

if TYPE_CHECKING:
    from ...store.db import Database
    from ...store.index_types import SearchFilter
    from ..users import UserInfo


@dataclass
class RetrievalBundle:
    retrieval: Any  # RetrievalService
    knowledge: Any  # KnowledgeService
    files: Any  # FileService

    def close(self) -> None:
        self.files.close()
        self.retrieval.stop()


def build_retrieval(
    db: Database,
    config: RetrievalConfig,
    *,
    max_upload_size: int = 50 * 1024 * 1024,
    on_progress: Callable[[dict], Any] | None = None,
    start: bool = True,
) -> RetrievalBundle:
    """Retrieval + knowledge + files over the SQL database ``db``; ``start`` schedules the
    index to open in the background after ``config.index_start_delay`` seconds."""
    from ...store.knowledge_store import KnowledgeStore
    from ...store.users import UserStore
    from .files import FileService
    from .knowledge import KnowledgeService

    users = UserStore(db)
    store = KnowledgeStore(db)

    def resolve(name: str, user: UserInfo | None) -> SearchFilter | None:
        """Collection names are knowledge's to resolve; knowledge is built on retrieval."""
        return knowledge.resolve(name, user)

    retrieval = RetrievalService(
        config,
        on_progress=on_progress,
        resolver=resolve,
        user_ids=lambda: [user.id for user in users.list()],
    )
    knowledge = KnowledgeService(store, retrieval)
    files = FileService(
        store, retrieval, os.path.join(config.data_dir, "uploads"), max_upload_size=max_upload_size
    )
    if start:
        retrieval.start()
    return RetrievalBundle(retrieval, knowledge, files)
