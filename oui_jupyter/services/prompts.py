"""The prompt library (Open WebUI's prompts): reusable texts under a ``/command``.

A prompt is its author's; ``access_control`` says who else reads (``read``) or edits
(``write``) it, through ``services/authz.py`` as custom models do: ``None`` is everyone's,
``{}`` the author's only (and the admins'). A prompt one may not read answers 404 exactly
as one that does not exist. Commands are unique on the server (Open WebUI's rule). The
content's ``{{variables}}`` are kept as written: the client fills them when the prompt is
used (the sidebar composer, ``%%chat /command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from oui_jupyter.errors import Forbidden, InvalidInput, NotFound
from oui_jupyter.schemas.library import (
    PromptAuthor,
    PromptForm,
    PromptResponse,
    PromptUserResponse,
)
from oui_jupyter.services import authz

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.orm import Prompt, User
    from oui_jupyter.store.prompts import PromptStore


def stored_command(command: str) -> str:
    """``slug`` or ``/slug`` as stored: ``/slug``."""
    return command if command.startswith("/") else f"/{command}"


def response(row: Prompt) -> PromptResponse:
    return PromptResponse(
        command=row.command,
        user_id=row.user_id,
        title=row.title,
        content=row.content,
        timestamp=int(row.timestamp),
        access_control=row.access_control,
    )


def _author(user: User | None) -> PromptAuthor | None:
    if user is None:
        return None
    return PromptAuthor(id=user.id, name=user.display_name or user.name, role=user.role)


class PromptService:
    def __init__(self, store: PromptStore) -> None:
        self.store = store

    @staticmethod
    def can_read(user: UserInfo, row: Prompt) -> bool:
        return authz.can_read(user, row, public=authz.is_public(row))

    def readable(self, user: UserInfo) -> list[PromptResponse]:
        """``GET v1/prompts/``: every prompt the user may read (use), newest first."""
        return [response(p) for p, _ in self.store.list() if self.can_read(user, p)]

    def writable(self, user: UserInfo) -> list[PromptUserResponse]:
        """``GET v1/prompts/list``: the prompts the user may edit, with their authors."""
        return [
            PromptUserResponse(**msgspec.structs.asdict(response(p)), user=_author(u))
            for p, u in self.store.list()
            if authz.can_write(user, p)
        ]

    def get(self, user: UserInfo, command: str) -> PromptResponse:
        return response(self._readable_row(user, stored_command(command)))

    def create(self, user: UserInfo, form: PromptForm) -> PromptResponse:
        access = (
            {}
            if form.access_control is msgspec.UNSET
            else authz.validate_access_control(form.access_control)
        )
        row = self.store.create(
            stored_command(form.command),
            user.id,
            title=form.title.strip() or form.title,
            content=form.content,
            access_control=access,
        )
        return response(row)

    def update(self, user: UserInfo, command: str, form: PromptForm) -> PromptResponse:
        """Title, content and (owner or admin) access; the command stays (the path's)."""
        command = stored_command(command)
        if stored_command(form.command) != command:
            raise InvalidInput("command cannot change: create a new prompt instead")
        row = self._readable_row(user, command)
        if not authz.can_write(user, row):
            raise Forbidden("Only the prompt's author, a write grant or an admin may change it")
        fields: dict[str, object] = {"title": form.title.strip() or form.title}
        fields["content"] = form.content
        if form.access_control is not msgspec.UNSET:
            access = authz.validate_access_control(form.access_control)
            if access != row.access_control:
                if not authz.can_manage(user, row):
                    raise Forbidden("Only the prompt's author or an admin may change who sees it")
                fields["access_control"] = access
        return response(self.store.update(command, **fields))

    def delete(self, user: UserInfo, command: str) -> bool:
        command = stored_command(command)
        row = self._readable_row(user, command)
        if not authz.can_manage(user, row):
            raise Forbidden("Only the prompt's author or an admin may delete it")
        self.store.delete(command)
        return True

    def _readable_row(self, user: UserInfo, command: str) -> Prompt:
        row = self.store.get(command)
        if not self.can_read(user, row):
            raise NotFound(f"Prompt {command} not found")
        return row
