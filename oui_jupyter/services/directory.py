"""The team's users and groups as admins list them: the users rows kept on sight
(``UserService.save``: role, hub groups, last activity)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oui_jupyter.services import authz

if TYPE_CHECKING:  # the stores import SQLAlchemy: not at extension load
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.users import UserStore


def list_users(user: UserInfo, store: UserStore) -> list[dict[str, Any]]:
    """Every user seen, oldest first (admins)."""
    authz.require_admin(user, "Only admins may list the users")
    return [
        {
            "id": row.id,
            "name": row.name,
            "display_name": row.display_name,
            "role": row.role,
            "groups": [str(g) for g in row.groups or []],
            "created_at": int(row.created_at),
            "last_active_at": int(row.last_active_at),
        }
        for row in store.list()
    ]


def list_groups(user: UserInfo, store: UserStore) -> list[dict[str, Any]]:
    """Every group a user was seen in, by name, with its members (admins); ``user_ids`` is
    Open WebUI's name for them."""
    authz.require_admin(user, "Only admins may list the groups")
    members: dict[str, list[str]] = {}
    for row in store.list():
        for group in row.groups or []:
            members.setdefault(str(group), []).append(row.id)
    return [
        {"id": name, "name": name, "members": ids, "user_ids": ids, "member_count": len(ids)}
        for name, ids in sorted(members.items())
    ]
