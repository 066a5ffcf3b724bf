"""A Jupyter identity provider for tests: ``Authorization: token <name>-token`` is <name>."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User

TEST_USERS = {
    "alice-token": User(username="alice", name="Alice", display_name="Alice A."),
    "bob-token": User(username="bob", name="Bob", display_name="Bob B."),
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
