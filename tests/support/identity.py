"""A Jupyter identity provider for tests: ``Authorization: token <name>-token`` is <name>.

alice and bob are plain Jupyter users (no hub groups). The team users carry a ``hub_user``
as JupyterHub's identity gives one (admin flag and groups): carol is a hub admin, dave is in
``physics``, erin in ``chemistry`` and ``physics``, frank in ``chemistry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User


@dataclass
class HubTestUser(User):
    hub_user: dict[str, Any] = field(default_factory=dict)


def _hub(name: str, groups: list[str], admin: bool = False) -> HubTestUser:
    return HubTestUser(
        username=name,
        name=name.title(),
        display_name=name.title(),
        hub_user={"name": name, "admin": admin, "groups": groups},
    )


TEST_USERS = {
    "alice-token": User(username="alice", name="Alice", display_name="Alice A."),
    "bob-token": User(username="bob", name="Bob", display_name="Bob B."),
    "carol-token": _hub("carol", ["staff"], admin=True),
    "dave-token": _hub("dave", ["physics"]),
    "erin-token": _hub("erin", ["chemistry", "physics"]),
    "frank-token": _hub("frank", ["chemistry"]),
}


OWNER = User(username="owner", name="owner", display_name="Owner")


class MultiUserIdentityProvider(IdentityProvider):
    """Known test tokens map to their users; the server token still works as the owner."""

    def get_user(self, handler: Any) -> Any:
        auth = handler.request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() in ("token", "bearer") and token in TEST_USERS:
            handler._token_authenticated = True  # token auth: exempt from XSRF, as Jupyter's
            return TEST_USERS[token]
        user = super().get_user(handler)
        if user is not None and getattr(handler, "_token_authenticated", False):
            return OWNER  # the server's own token: one stable owner, as on a single-user server
        return user
