"""Build the retrieval services in one call (used by ``app.build_services``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .service import API_SETTINGS, RetrievalConfig, RetrievalService

if TYPE_CHECKING:
    from ...store.db import Database
    from ...store.index_types import SearchFilter
    from ...store.users import ConfigStore
    from ..activity import GenerationActivity
    from ..users import UserInfo

#: the team service's retrieval settings in the database's config store (API names -> values)
SETTINGS_KEY = "retrieval"


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
    shared: bool = False,
    activity: GenerationActivity | None = None,
) -> RetrievalBundle:
    """Retrieval + knowledge + files over the SQL database ``db``; ``start`` schedules the
    index to open in the background after ``config.index_start_delay`` seconds.

    ``shared``: the team service's replicas share ``db`` (issue #16): the index (unless
    ``config`` names another class) and the uploads' bytes are kept in it, and the retrieval
    settings an admin saved there (``persist_settings``) win over ``config``. ``activity``: the
    running chat turns, which the index's embedding yields to."""
    from ...store.knowledge_store import KnowledgeStore
    from ...store.users import ConfigStore, UserStore
    from .files import Blobs, FileService
    from .knowledge import KnowledgeService

    users = UserStore(db)
    store = KnowledgeStore(db)
    blobs: Blobs | None = None
    if shared:
        from ...store.blobs import DbBlobs
        from ...store.pg_index import PgVectorIndex

        config = with_saved_settings(config, ConfigStore(db).get(SETTINGS_KEY) or {})
        if config.retrieval_store_class is None:
            config = replace(config, retrieval_store_class=functools.partial(PgVectorIndex, db=db))
        blobs = DbBlobs(db)

    def resolve(name: str, user: UserInfo | None) -> SearchFilter | None:
        """Collection names are knowledge's to resolve; knowledge is built on retrieval."""
        return knowledge.resolve(name, user)

    retrieval = RetrievalService(
        config,
        on_progress=on_progress,
        resolver=resolve,
        user_ids=lambda: [user.id for user in users.list()],
        activity=activity,
    )
    knowledge = KnowledgeService(store, retrieval)
    files = FileService(
        store,
        retrieval,
        os.path.join(config.data_dir, "uploads"),
        max_upload_size=max_upload_size,
        blobs=blobs,
    )
    if start:
        retrieval.start()
    return RetrievalBundle(retrieval, knowledge, files)


def with_saved_settings(config: RetrievalConfig, saved: dict[str, Any]) -> RetrievalConfig:
    """``config`` with the settings saved by ``persist_settings`` (their API names)."""
    return replace(config, **{API_SETTINGS[k]: v for k, v in saved.items() if k in API_SETTINGS})


def persist_settings(retrieval: RetrievalService, config_store: ConfigStore) -> None:
    """Save the settings each ``update_config`` made here changes in the database, so that a
    replica started later has them (the others hear the change over the bus). Only the
    settings an admin changed are saved: the rest keep following the configuration."""
    update = retrieval.update_config

    def update_and_save(changes: dict[str, Any]) -> dict[str, Any]:
        answer = update(changes)
        saved = dict(config_store.get(SETTINGS_KEY) or {})
        for api in changes:
            value = getattr(retrieval.config, API_SETTINGS[api])
            saved[api] = list(value) if api == "exclude" else value
        config_store.set(SETTINGS_KEY, saved)
        return answer

    retrieval.update_config = update_and_save  # type: ignore[method-assign]
