"""Admin settings of a media feature (images, audio) kept in the database, as the OpenAI
connection settings are: the configured values (traitlets, Open WebUI's environment
variables) until an admin saves a form, then the stored ones.

Each read goes to the database (they are small, and a team service's replicas then agree
at once); the last read is kept for ``oui/api/config``'s feature flags, which are answered
on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from oui_jupyter.providers import media_settings as ms
from oui_jupyter.providers.connections import Connection
from oui_jupyter.services import authz

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.users import ConfigStore


class StoredSettings:
    def __init__(
        self,
        store: ConfigStore,
        key: str,
        defaults: Mapping[str, Any],
        configured: Mapping[str, Any],
        connections: Callable[[], list[Connection]],
    ) -> None:
        self.store = store
        self.key = key
        self.defaults = dict(defaults)
        self.configured = ms.normalize(dict(configured), defaults)
        self.connections = connections
        self.last: tuple[dict[str, Any], Connection | None] = (self.configured, None)

    def load(self) -> tuple[dict[str, Any], Connection | None]:
        """The settings and the connection an empty endpoint follows (database reads)."""
        stored = self.store.get(self.key)
        settings = ms.normalize(stored, self.defaults) if stored else self.configured
        first = ms.first_connection(self.connections())
        self.last = (settings, first)
        return self.last

    def form(self, user: UserInfo, fields: tuple[ms.Field, ...]) -> dict[str, Any]:
        authz.require_admin(user, f"Only admins may read the {self.key} settings")
        settings, first = self.load()
        return ms.form(settings, fields, first)

    def update(self, user: UserInfo, raw: Any, fields: tuple[ms.Field, ...]) -> dict[str, Any]:
        authz.require_admin(user, f"Only admins may change the {self.key} settings")
        settings, first = self.load()
        new = ms.merge(raw, settings, fields, first)
        self.store.set(self.key, new)
        self.last = (new, first)
        return ms.form(new, fields, first)
