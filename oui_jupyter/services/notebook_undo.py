"""Undo of an agent turn (``POST v1/tools/undo``): every notebook the turn changed goes back
to what it was before the turn.

A notebook still exactly as the turn left it gets its exact bytes back. One the user has
changed since gets the turn's cells back and keeps the user's other changes, unless the
user changed a cell the turn touched (its type or source, or removed it): then nothing of
the turn is undone, in any notebook, and the answer (409) names those cells.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import Conflict, NotFound, OuiError
from oui_jupyter.services.authz import can_undo_turn
from oui_jupyter.services.notebook_files import cell_state
from oui_jupyter.tools.base import ToolError

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from oui_jupyter.services.notebook_files import NotebookFiles
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.notebook_checkpoints import Checkpoint, NotebookCheckpointStore


def changed_cells(checkpoint: Checkpoint, current: NotebookNode) -> list[int]:
    """Indexes of the cells the turn touched that the user has changed since (in the
    current notebook; a cell the user removed by the index the turn left it at)."""
    changed = []
    for cell_id, left in checkpoint.touched.items():
        now = cell_state(current.cells, cell_id)
        if left is None:
            if now is not None:
                changed.append(now["index"])
        elif now is None:
            changed.append(left["index"])
        elif (now["cell_type"], now["source"]) != (left["cell_type"], left["source"]):
            changed.append(now["index"])
    return sorted(set(changed))


def merged(before: NotebookNode, current: NotebookNode, touched: set[str]) -> NotebookNode:
    """``before``'s cells, where each cell the turn did not touch is as the user has it now
    (and gone if the user removed it); cells the user added since stay after the cell they
    follow now. Metadata: the current notebook's."""
    now = {c.get("id"): c for c in current.cells}
    before_ids = {c.get("id") for c in before.cells}
    cells: list[Any] = []
    for cell in before.cells:
        cid = cell.get("id")
        if cid in touched:
            cells.append(cell)
        elif cid in now:
            cells.append(now[cid])
    anchor = -1  # a cell the user added goes after the kept cell it follows now
    for cell in current.cells:
        cid = cell.get("id")
        if cid not in before_ids and cid not in touched:
            anchor += 1
            cells.insert(anchor, cell)
            continue
        for i, kept in enumerate(cells):
            if kept.get("id") == cid:
                anchor = i
                break
    from nbformat import from_dict

    result: NotebookNode = from_dict({**current, "cells": cells})
    return result


def _detailed(error: OuiError) -> OuiError:
    """The message also as ``detail`` (Open WebUI's field), beside ``message``."""
    error.fields["detail"] = error.message
    return error


class NotebookUndo:
    def __init__(self, files: NotebookFiles, store: NotebookCheckpointStore) -> None:
        self.files = files
        self.store = store

    async def undo(self, user: UserInfo, chat_id: str, message_id: str) -> dict[str, Any]:
        found = await asyncio.to_thread(self.store.for_turn, chat_id, message_id)
        checkpoints = [c for c in found if can_undo_turn(user, c)]
        if not checkpoints:
            raise _detailed(NotFound(f"nothing to undo for message {message_id} of chat {chat_id}"))
        async with AsyncExitStack() as stack:
            for path in sorted({c.path for c in checkpoints}):
                await stack.enter_async_context(self.files.lock(path))
            plans, conflicts = await self._plan(checkpoints)
            if conflicts:
                raise _detailed(Conflict("; ".join(conflicts) + "; nothing was undone"))
            for checkpoint, restore in plans:
                if isinstance(restore, bytes):
                    await self.files.write_bytes(checkpoint.path, restore)
                else:
                    await self.files.save_notebook(checkpoint.path, restore)
            await asyncio.to_thread(self.store.delete, [c.id for c in checkpoints])
        restored = [c.path for c, _ in plans]
        for path in restored:
            self.files.changed(user, path)
        return {"restored": restored}

    async def _plan(
        self, checkpoints: list[Checkpoint]
    ) -> tuple[list[tuple[Checkpoint, bytes | NotebookNode]], list[str]]:
        plans: list[tuple[Checkpoint, bytes | NotebookNode]] = []
        conflicts: list[str] = []
        for checkpoint in checkpoints:
            path = checkpoint.path
            if checkpoint.after is None:  # the turn's write failed: nothing to take back
                continue
            try:
                self.files.confine(path)
                raw = await self.files.read_bytes(path)
            except Exception:  # ToolError, or the contents manager's 404
                conflicts.append(f"{path} was moved or deleted since this turn")
                continue
            if raw == checkpoint.after:
                plans.append((checkpoint, checkpoint.before))
                continue
            try:
                current = self.files.parse(raw, path)
            except ToolError:
                conflicts.append(f"{path} is no longer a valid notebook")
                continue
            changed = changed_cells(checkpoint, current)
            if changed:
                listed = ", ".join(str(i) for i in changed)
                word = "cell" if len(changed) == 1 else "cells"
                conflicts.append(f"{word} {listed} of {path} changed since this turn")
                continue
            before = self.files.parse(checkpoint.before, path)
            if any(not c.get("id") for c in before.cells):
                conflicts.append(f"{path} changed since this turn (its cells had no ids)")
                continue
            plans.append((checkpoint, merged(before, current, set(checkpoint.touched))))
        return plans, conflicts
