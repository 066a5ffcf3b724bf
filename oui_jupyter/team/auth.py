"""Who calls the oui team service: JupyterHub says, for every request.

``HubServiceIdentityProvider`` asks the hub about the request's token (``Authorization: token
<t>`` or ``bearer <t>``; ``?token=`` for WebSockets) through ``jupyterhub.services.auth.HubAuth``
(cached), requires ``access:services!service=<this service>`` and answers a Jupyter ``User``
whose ``hub_user`` holds the hub's ``name``, ``admin`` and ``groups``. A token that cannot read
its own user's admin flag or groups (a user server's ``$JUPYTERHUB_API_TOKEN``) gets them from
the hub with the service's own token (``read:users``, ``read:groups``; cached ``lookup_ttl``).

``ServiceAuthorizer`` lets through the oui routes only (``auth_resource == "oui"``): Jupyter's
own APIs (kernels, contents, terminals, sessions...) are refused in the service with 403.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Float, Unicode, default

from oui_jupyter.handlers.base import AUTH_RESOURCE

AUTH_HEADER = re.compile(r"(?:token|bearer)\s+(.+)", re.IGNORECASE)


class HubUser(User):
    """A Jupyter user as the hub knows them (``hub_user``: name, admin, groups)."""

    hub_user: dict[str, Any]

    def __init__(self, hub_user: dict[str, Any]) -> None:
        name = str(hub_user["name"])
        super().__init__(username=name, name=name, display_name=name)
        self.hub_user = hub_user


class HubServiceIdentityProvider(IdentityProvider):
    """Authenticates every request with the hub; there is no login page and no local token."""

    service_name = Unicode(
        help="This service's name in the hub; callers need access:services!service=<name>. "
        "Env: $JUPYTERHUB_SERVICE_NAME."
    ).tag(config=True)

    @default("service_name")
    def _default_service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "oui")

    cache_ttl = Float(
        30.0, help="Seconds the hub's answer about a token is kept (HubAuth's cache)."
    ).tag(config=True)

    lookup_ttl = Float(
        30.0, help="Seconds a user's admin flag and groups, read from the hub, are kept."
    ).tag(config=True)

    @default("token")
    def _token_default(self) -> str:
        return ""  # no token of its own: only the hub's tokens get in

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False

    @property
    def logout_available(self) -> bool:
        return False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hub_auth: Any = None
        self._lookups: dict[str, tuple[float, dict[str, Any]]] = {}

    @property
    def hub_auth(self) -> Any:
        """``HubAuth`` of this service (imported on first use: jupyterhub is only needed here)."""
        if self._hub_auth is None:
            from jupyterhub.services.auth import HubAuth

            self._hub_auth = HubAuth(
                access_scopes={f"access:services!service={self.service_name}"},
                cache_max_age=int(self.cache_ttl),
                allow_token_in_url=False,
            )
        return self._hub_auth

    @property
    def required_scope(self) -> str:
        return f"access:services!service={self.service_name}"

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        if hasattr(handler, "_oui_hub_user"):
            cached: User | None = handler._oui_hub_user
            return cached
        user = await self._authenticate(handler)
        handler._oui_hub_user = user  # type: ignore[attr-defined]
        return user

    @staticmethod
    def token_of(handler: web.RequestHandler) -> str:
        """The request's hub token: ``Authorization: token|bearer <t>``, or ``?token=<t>`` on
        a WebSocket upgrade (browsers cannot set headers there). No cookies."""
        match = AUTH_HEADER.match(handler.request.headers.get("Authorization", ""))
        if match:
            return match.group(1).strip()
        if handler.request.headers.get("Upgrade", "").lower() == "websocket":
            return handler.get_argument("token", "")
        return ""

    async def _authenticate(self, handler: web.RequestHandler) -> User | None:
        token = self.token_of(handler)
        if not token:
            return None
        hub_auth = self.hub_auth
        model = await hub_auth.user_for_token(token, sync=False)
        if not model:
            return None
        scopes = set(model.get("scopes") or ())
        if not (hub_auth.check_scopes(hub_auth.access_scopes, model) or "admin:services" in scopes):
            self.log.warning("oui: %s has no %s; refused", model.get("name"), self.required_scope)
            raise web.HTTPError(403, f"This token may not use the {self.service_name} service")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "Only hub users may use the oui service")
        if "admin" not in model or "groups" not in model:
            model = {**model, **await self._lookup(str(model["name"]))}
        handler._token_authenticated = True  # type: ignore[attr-defined]  # no XSRF for tokens
        return HubUser(
            {
                "name": model["name"],
                "admin": bool(model.get("admin")),
                "groups": [str(g) for g in model.get("groups") or ()],
            }
        )

    async def _lookup(self, name: str) -> dict[str, Any]:
        """``admin`` and ``groups`` of ``name``, from the hub with the service's own token."""
        now = time.monotonic()
        hit = self._lookups.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        hub_auth = self.hub_auth
        url = f"{hub_auth.api_url.rstrip('/')}/users/{name}"
        try:
            response = await AsyncHTTPClient().fetch(
                url, headers={"Authorization": f"token {hub_auth.api_token}"}, request_timeout=10
            )
        except HTTPClientError as exc:
            self.log.error(
                "oui: cannot read %s's groups from the hub (%s): give the service a role with "
                "read:users and read:groups",
                name,
                exc,
            )
            raise web.HTTPError(502, "Could not read the user's roles from the hub") from None
        except OSError as exc:
            raise web.HTTPError(502, f"The hub is unreachable: {exc}") from None
        data = json.loads(response.body)
        found = {"admin": bool(data.get("admin")), "groups": list(data.get("groups") or ())}
        self._lookups[name] = (now + self.lookup_ttl, found)
        return found

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return getattr(handler, "_token_authenticated", False)

    def should_check_origin(self, handler: web.RequestHandler) -> bool:
        return not self.is_token_authenticated(handler)


class ServiceAuthorizer(Authorizer):
    """Only the oui routes (``auth_resource == "oui"``); every Jupyter API is refused."""

    def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        return resource == AUTH_RESOURCE
