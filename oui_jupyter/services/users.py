"""Users come from Jupyter's identity provider; this decides their role and keeps their row."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from oui_jupyter.store.users import UserStore


@dataclass(frozen=True)
class Identity:
    """What Jupyter's identity provider (and JupyterHub, when present) says about a user."""

    username: str
    name: str = ""
    display_name: str = ""
    hub_admin: bool | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    display_name: str
    role: str
    groups: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def identity_from_jupyter(user: Any, owner: str | None = None) -> Identity:
    """Read a ``jupyter_server.auth.User`` (or JupyterHub's subclass with ``hub_user``).

    ``owner`` is set on a single-user server: every request there is its owner's, whatever
    anonymous name Jupyter's token login made up for it.
    """
    if owner is not None:
        return Identity(username=owner, name=owner, display_name=owner)
    hub_user = getattr(user, "hub_user", None)
    hub_admin = None
    groups: tuple[str, ...] = ()
    if isinstance(hub_user, dict):
        hub_admin = bool(hub_user.get("admin", False))
        groups = tuple(str(g) for g in hub_user.get("groups") or ())
    return Identity(
        username=user.username,
        name=getattr(user, "name", "") or user.username,
        display_name=getattr(user, "display_name", "") or user.username,
        hub_admin=hub_admin,
        groups=groups,
    )


#: how often a user's row is written again while nothing about them changes: their
#: ``last_active_at`` (admins' user list) is this fresh
ACTIVITY_INTERVAL = 60.0
#: the most JSON one user's settings may be
MAX_SETTINGS_BYTES = 64 * 1024


class UserService:
    """Roles: single-user, the server's owner and ``admin_users`` (and hub admins) are admins.

    ``team`` (the oui team service and user servers under a team hub): only hub admins and
    ``admin_users`` (there: ``OuiJupyter.hub_admins``) are; owning a server makes no one one.
    """

    def __init__(
        self,
        store: UserStore,
        admin_users: set[str],
        owner: str | None = None,
        *,
        team: bool = False,
    ) -> None:
        self.store = store
        self.admin_users = admin_users
        self.team = team
        # The server's owner (JUPYTERHUB_USER under JupyterHub, where others reach it by sharing).
        self.owner = owner if owner is not None else os.environ.get("JUPYTERHUB_USER")
        self._seen: dict[str, UserInfo] = {}
        self._saved_at: dict[str, float] = {}

    def role_of(self, identity: Identity) -> str:
        if identity.username in self.admin_users or identity.hub_admin:
            return "admin"
        if self.team:
            return "user"
        if self.owner is None or identity.username == self.owner:
            return "admin"  # a single-user server's user owns it
        return "user"

    def info(self, identity: Identity) -> UserInfo:
        """Who ``identity`` is to oui (in memory: no database)."""
        return UserInfo(
            id=identity.username,
            name=identity.name or identity.username,
            display_name=identity.display_name or identity.username,
            role=self.role_of(identity),
            groups=identity.groups,
        )

    def is_saved(self, info: UserInfo) -> bool:
        """Whether ``info`` is already the user's row, written in the last
        ``ACTIVITY_INTERVAL`` seconds (in memory: no database)."""
        return (
            self._seen.get(info.id) == info
            and time.monotonic() - self._saved_at.get(info.id, -ACTIVITY_INTERVAL)
            < ACTIVITY_INTERVAL
        )

    def save(self, info: UserInfo) -> None:
        """Write the user's row (a database call)."""
        self.store.upsert(
            info.id,
            name=info.name,
            display_name=info.display_name,
            role=info.role,
            groups=list(info.groups),
        )
        self._seen[info.id] = info
        self._saved_at[info.id] = time.monotonic()

    def settings(self, user: UserInfo) -> dict[str, Any]:
        """``GET v1/users/user/settings``: the user's settings (a database call)."""
        return self.store.settings(user.id)

    def update_settings(self, user: UserInfo, settings: Any) -> dict[str, Any]:
        """Replace the user's settings (Open WebUI's ``UserSettings``: an object, its ``ui``
        an object too), at most ``MAX_SETTINGS_BYTES`` of JSON."""
        import json

        if not isinstance(settings, dict):
            raise InvalidInput("settings must be an object")
        if "ui" in settings and not isinstance(settings["ui"], dict):
            raise InvalidInput("settings.ui must be an object")
        size = len(json.dumps(settings))
        if size > MAX_SETTINGS_BYTES:
            raise PayloadTooLarge(
                f"settings are {size} bytes of JSON; at most {MAX_SETTINGS_BYTES}"
            )
        return self.store.set_settings(user.id, settings)

    def resolve(self, identity: Identity) -> UserInfo:
        """The user's row, created on first sight; cached while nothing about them changes."""
        info = self.info(identity)
        if not self.is_saved(info):
            self.save(info)
        return info
