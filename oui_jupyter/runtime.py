"""The services, built once off the event loop.

Importing SQLAlchemy, opening the database and checking migrations costs a few hundred
milliseconds, so none of it happens while ``jupyter server`` starts: the app schedules
``warm_up`` right after start, and the first request waits for it if it comes sooner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oui_jupyter.heap import freeze_long_lived

if TYPE_CHECKING:  # the services import SQLAlchemy and more: not at extension load
    from oui_jupyter.mcp.service import McpService
    from oui_jupyter.services.app_config import AppConfigService
    from oui_jupyter.services.audio import AudioService
    from oui_jupyter.services.chat_bulk import ChatBulkService
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.completions import CompletionService
    from oui_jupyter.services.evaluations import EvaluationService
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.images import ImageService
    from oui_jupyter.services.memories import MemoryService
    from oui_jupyter.services.models import ModelService
    from oui_jupyter.services.notebook_undo import NotebookUndo
    from oui_jupyter.services.prompts import PromptService
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.retrieval.knowledge import KnowledgeService
    from oui_jupyter.services.retrieval.service import RetrievalService
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.services.users import UserService
    from oui_jupyter.store.db import Database
    from oui_jupyter.store.users import ConfigStore
    from oui_jupyter.tools.channel import ToolChannels
    from oui_jupyter.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


class Lifecycle:
    """What runs when oui is first used and when the server stops; the composition root
    registers it while it builds the services (``app.py``)."""

    def __init__(self) -> None:
        self._closers: list[Callable[[], Any]] = []
        self._activators: list[Callable[[], Any]] = []
        self._active = False

    def on_close(self, closer: Callable[[], Any]) -> None:
        self._closers.append(closer)

    def on_first_use(self, activator: Callable[[], Any]) -> None:
        """Run ``activator`` (quick, non-blocking) when a client first uses oui: background
        work such as the workspace index waits for somebody to use it."""
        self._activators.append(activator)

    def activate(self) -> None:
        if self._active:
            return
        self._active = True
        for activator in self._activators:
            try:
                activator()
            except Exception:
                log.exception("oui: error while starting a service")

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                log.exception("oui: error while closing a service")


@dataclass
class Services:
    """The built services, one typed field each; ``app.py`` builds them (``build_services``)."""

    db: Database
    users: UserService
    chats: ChatService
    chat_bulk: ChatBulkService
    config_store: ConfigStore
    app_config: AppConfigService
    retrieval: RetrievalService
    knowledge: KnowledgeService
    files: FileService
    models: ModelService
    completions: CompletionService
    evaluations: EvaluationService
    events: EventHub
    tasks: TaskRegistry
    tools: ToolRegistry
    notebook_undo: NotebookUndo
    tool_channels: ToolChannels  # team clients' tools, run on their servers (issue #12)
    images: ImageService
    audio: AudioService
    prompts: PromptService
    memories: MemoryService
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    #: MCP both ways (issue #12): the admin's servers' tools and ``oui/mcp``
    mcp: McpService | None = None

    def on_close(self, closer: Callable[[], Any]) -> None:
        self.lifecycle.on_close(closer)

    def on_first_use(self, activator: Callable[[], Any]) -> None:
        self.lifecycle.on_first_use(activator)

    def activate(self) -> None:
        self.lifecycle.activate()

    def close(self) -> None:
        self.lifecycle.close()


class Runtime:
    def __init__(self, build: Callable[[], Services]) -> None:
        self._build = build
        self._future: asyncio.Future[Services] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oui-init")
        self.services: Services | None = None

    def warm_up(self) -> asyncio.Future[Services]:
        """Start building the services in a thread (idempotent)."""
        if self._future is None:
            loop = asyncio.get_running_loop()
            self._future = asyncio.ensure_future(
                loop.run_in_executor(self._executor, self._build_and_keep)
            )
        return self._future

    def _build_and_keep(self) -> Services:
        services = self._build()
        self.services = services
        freeze_long_lived()  # Jupyter, SQLAlchemy and the stores live as long as the server
        return services

    async def ready(self) -> Services:
        if self.services is not None:
            return self.services
        return await asyncio.shield(self.warm_up())

    def close(self) -> None:
        if self.services is not None:
            self.services.close()
        self._executor.shutdown(wait=False)
