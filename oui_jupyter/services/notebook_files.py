"""Notebooks as the agent's tools read and write them: through the server's contents
manager, confined to the root, one writer at a time per notebook, and each turn's first
change preceded by an undo checkpoint.

``write`` is the only way a tool changes a notebook: it keeps the notebook's exact bytes
before the turn's first change (``NotebookCheckpointStore``), saves through the contents
manager, records the bytes after and the state of the cells the turn touched, and sends
the ``notebook:changed`` frame to the user whose turn it was (the sockets of that user
only: a notebook's path is not news for anyone else).
"""

from __future__ import annotations

import asyncio
import base64
import os
import weakref
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async

from oui_jupyter.tools.base import ToolContext, ToolError
from oui_jupyter.tools.paths import Confined

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.notebook_checkpoints import NotebookCheckpointStore

#: the longest notebook path a checkpoint keeps
MAX_PATH = 1024


def cell_state(cells: list[Any], cell_id: str) -> dict[str, Any] | None:
    """What undo compares of a cell: its index, type and source (``None``: not there)."""
    for index, cell in enumerate(cells):
        if cell.get("id") == cell_id:
            source = cell.get("source", "")
            return {
                "index": index,
                "cell_type": cell.get("cell_type"),
                "source": "".join(source) if isinstance(source, list) else source,
            }
    return None


def ensure_cell_ids(nb: NotebookNode) -> bool:
    """Give every cell an id (nbformat 4.5), so that edits and undo can name cells; whether
    any was missing."""
    from nbformat.v4.nbbase import random_cell_id

    changed = False
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
        changed = True
    taken = {c.get("id") for c in nb.cells}
    for cell in nb.cells:
        if not cell.get("id"):
            new = random_cell_id()
            while new in taken:
                new = random_cell_id()
            cell["id"] = new
            taken.add(new)
            changed = True
    return changed


class NotebookFiles:
    def __init__(
        self,
        contents_manager: Any,
        store: NotebookCheckpointStore,
        hub: EventHub,
        *,
        root_dir: str,
        max_bytes: int,
    ) -> None:
        self.contents = contents_manager
        self.store = store
        self.hub = hub
        self.root_dir = root_dir
        self.max_bytes = max_bytes
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, path: str) -> asyncio.Lock:
        """The lock of one notebook: tool calls of a turn may run concurrently."""
        lock = self._locks.get(path)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[path] = lock
        return lock

    def confine(self, path: str, root_dir: str | None = None) -> str:
        """``path`` as a clean relative path of an existing notebook, or ``ToolError``."""
        real, rel = Confined(root_dir or self.root_dir).resolve(path)
        if not rel.endswith(".ipynb"):
            raise ToolError(f"'{rel}' is not a notebook (.ipynb)")
        if len(rel) > MAX_PATH:
            raise ToolError(f"'{rel[:80]}...': the path is over {MAX_PATH} characters")
        if os.path.getsize(real) > self.max_bytes:
            raise ToolError(f"'{rel}' is over {self.max_bytes} bytes")
        return rel

    async def read_bytes(self, path: str) -> bytes:
        model = await ensure_async(
            self.contents.get(path, content=True, type="file", format="base64")
        )
        return base64.b64decode(model["content"])

    @staticmethod
    def parse(raw: bytes, path: str) -> NotebookNode:
        import nbformat

        try:
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        except Exception as exc:
            raise ToolError(f"'{path}' is not a valid notebook: {exc}") from None
        return nb

    async def write_bytes(self, path: str, raw: bytes) -> None:
        """Write ``raw`` exactly (undo's restore)."""
        model = {"type": "file", "format": "base64", "content": base64.b64encode(raw).decode()}
        await ensure_async(self.contents.save(model, path))

    async def save_notebook(self, path: str, nb: NotebookNode) -> bytes:
        """Save ``nb`` as JupyterLab would (the contents manager's format); its bytes after."""
        await ensure_async(self.contents.save({"type": "notebook", "content": nb}, path))
        return await self.read_bytes(path)

    async def write(
        self,
        context: ToolContext,
        path: str,
        before: bytes,
        nb: NotebookNode,
        touched: set[str],
    ) -> None:
        """A tool's change of ``path`` (the caller holds ``lock(path)`` since it read
        ``before``): checkpoint, save, record, tell the user."""
        chat_id, message_id = context.chat_id, context.message_id
        if not chat_id or not message_id:
            raise ToolError("notebook edits run in a chat turn only (each turn can be undone)")
        checkpoint = await asyncio.to_thread(self.store.find, chat_id, message_id, path)
        if checkpoint is None:
            checkpoint = await asyncio.to_thread(
                lambda: self.store.create(
                    user_id=context.user.id,
                    chat_id=chat_id,
                    message_id=message_id,
                    path=path,
                    before=before,
                )
            )
        after = await self.save_notebook(path, nb)
        ids = set(checkpoint.touched) | touched
        states = {cell_id: cell_state(nb.cells, cell_id) for cell_id in sorted(ids)}
        await asyncio.to_thread(self.store.record_after, checkpoint.id, after, states)
        self.changed(context.user, path)

    def changed(self, user: UserInfo, path: str) -> None:
        self.hub.emit(user.id, "notebook:changed", {"path": path})
