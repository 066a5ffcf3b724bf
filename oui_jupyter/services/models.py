"""The model list and model resolution: every connection, the embedded model, custom models.

Each connection's ``/models`` is fetched concurrently with a short timeout and the result kept
for ``cache_ttl`` seconds; a connection that fails or is slow never fails the list: its last
known (or configured) models are listed with ``available: false`` and the failure is logged
once (again only when it changes). Custom models (a base model + system prompt + parameters)
live in the database and are listed with the others.

The list answers within ``list_budget`` seconds: connections that have not answered by then
are listed from the models they listed last (kept per connection, in the database too, so a
restarted server has them) with ``pending: true``, and named in the answer's ``pending``; their
fetch goes on, and when the round ends ``on_updated`` is told (the ``models:updated`` event).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    NotReady,
    OuiError,
    ProviderTimeout,
)
from oui_jupyter.providers import connections as conn
from oui_jupyter.providers.connections import Connection
from oui_jupyter.providers.local_llama import (
    INSTALL_HINT,
    LOCAL_MODEL_ID,
    LOCAL_MODEL_NAME,
    LocalLlamaServer,
)
from oui_jupyter.providers.openai_compat import OpenAICompatProvider
from oui_jupyter.services import authz

if TYPE_CHECKING:  # the stores import SQLAlchemy: not at extension load
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.custom_models import CustomModelStore
    from oui_jupyter.store.orm import CustomModel
    from oui_jupyter.store.users import ConfigStore

log = logging.getLogger(__name__)

CONFIG_KEY = "openai"
KNOWN_KEY = "model_lists"  # each connection's last good listing: {idx: {"url", "models"}}
KNOWN_FIELDS = ("id", "name", "created", "owned_by")  # what an entry is made of
MODEL_ID = re.compile(r"^[^\s/]{1,255}$")
# Sampling parameters a custom model (or the defaults) may set; a request may send anything.
MODEL_PARAMS = {
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repeat_penalty",
    "logit_bias",
    "response_format",
    "reasoning_effort",
}


@dataclass
class ResolvedModel:
    """What a completion needs: who serves it, under which name, with what prompt and params."""

    id: str
    upstream_id: str
    provider: OpenAICompatProvider
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    custom: bool = False
    knowledge: list[dict[str, Any]] = field(default_factory=list)  # Open WebUI file items
    vision: bool = False  # it sees images (``info.meta.capabilities.vision``)


@dataclass
class _Listing:
    at: float
    entries: list[dict[str, Any]]
    routes: dict[str, tuple[str, str]]  # public id -> (provider key, upstream id)
    pending: list[str] = field(default_factory=list)  # connections not answered yet


@dataclass
class _Known:
    """A connection's last good listing, and the URL it came from."""

    url: str
    models: list[dict[str, Any]]


@dataclass
class _Round:
    """One fetch of every connection's models; ``outcomes`` fills in as they answer. The
    budget counts from ``started``, once the clients are built (local work, not network)."""

    generation: int
    providers: dict[str, OpenAICompatProvider]
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = 0.0
    outcomes: dict[str, list[dict[str, Any]] | BaseException] = field(default_factory=dict)
    served_partial: bool = False
    task: asyncio.Future[_Listing] | None = None


def model_params(params: dict[str, Any] | None) -> dict[str, Any]:
    params = dict(params or {})
    if "num_predict" in params and "max_tokens" not in params:
        params["max_tokens"] = params["num_predict"]
    return {k: v for k, v in params.items() if k in MODEL_PARAMS and v is not None}


class ModelService:
    def __init__(
        self,
        *,
        base_settings: dict[str, Any],
        config_store: ConfigStore,
        custom_store: CustomModelStore,
        local: LocalLlamaServer | None,
        fetch_timeout: float = 3.0,
        cache_ttl: float = 60.0,
        list_budget: float = 0.3,
        completion_timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.base_settings = conn.normalize_settings(base_settings)
        self.config_store = config_store
        self.custom_store = custom_store
        self.local = local
        self.fetch_timeout = fetch_timeout
        self.cache_ttl = cache_ttl
        self.list_budget = max(list_budget, 0.0)
        self.completion_timeout = completion_timeout
        self.connect_timeout = connect_timeout
        self._settings: dict[str, Any] | None = None
        self._settings_version = 0  # bumped by ``forget_settings``
        # Told after an admin changed the settings (the team service's other replicas).
        self.on_settings_changed: Callable[[], None] | None = None
        self._providers: dict[str, OpenAICompatProvider] = {}
        self._listing: _Listing | None = None
        self._round: _Round | None = None
        self._generation = 0  # bumped when the providers change: older rounds are stale
        self._known: dict[str, _Known] | None = None  # read from the database once
        self._known_saved: dict[str, Any] | None = None  # as the database has it
        self._reported: dict[str, str] = {}
        # Told on the event loop when a round that answered in part has finished.
        self.on_updated: Callable[[], None] | None = None
        self.local_provider: OpenAICompatProvider | None = None
        if local is not None:
            self.local_provider = OpenAICompatProvider(
                Connection(idx="local", base_url="", name="embedded llama.cpp", local=True),
                timeout=completion_timeout,
                connect_timeout=connect_timeout,
                resolve_base_url=local.base_url,
            )

    # ----- connection settings (admin) -----
    def settings(self) -> dict[str, Any]:
        settings = self._settings
        while settings is None:
            version = self._settings_version
            stored = self.config_store.get(CONFIG_KEY)
            settings = conn.normalize_settings(stored) if stored else self.base_settings
            if version != self._settings_version:  # forgotten while read: read again
                settings = None
                continue
            self._settings = settings
            self._rebuild_providers()
        return settings

    def forget_settings(self) -> None:
        """On the event loop: another replica changed the settings; read them again."""
        self._settings_version += 1
        self._settings = None
        self._listing = None
        self._generation += 1
        old, self._providers = self._providers, {}
        for provider in old.values():
            _close_later(provider)

    def redacted_settings(self, user: UserInfo) -> dict[str, Any]:
        authz.require_admin(user, "Only admins may read the connection settings")
        return conn.redacted_settings(self.settings())

    async def update_settings(self, user: UserInfo, raw: Any) -> dict[str, Any]:
        """On the event loop: the replaced providers' clients are closed there."""
        authz.require_admin(user, "Only admins may change the connection settings")
        new = conn.merge_update(raw, await asyncio.to_thread(self.settings))
        await asyncio.to_thread(self.config_store.set, CONFIG_KEY, new)
        self._settings = new
        self._rebuild_providers()
        self._listing = None
        if self.on_settings_changed is not None:
            self.on_settings_changed()
        log.info(
            "oui: connection settings updated (%d connections)", len(new["OPENAI_API_BASE_URLS"])
        )
        return conn.redacted_settings(new)

    def _rebuild_providers(self) -> None:
        assert self._settings is not None
        self._generation += 1
        old, self._providers = self._providers, {}
        for connection in conn.connections_from_settings(self._settings):
            if connection.enabled:
                self._providers[connection.idx] = OpenAICompatProvider(
                    connection,
                    timeout=self.completion_timeout,
                    connect_timeout=self.connect_timeout,
                )
        for provider in old.values():
            _close_later(provider)

    # ----- the list -----
    async def model_list(
        self, user: UserInfo, refresh: bool = False, complete: bool = False
    ) -> dict[str, Any]:
        """``{"data": [...], "pending": [connection ids]}`` within ``list_budget`` (or once
        every connection has answered, when ``complete``)."""
        listing = await self._fresh_listing(force=refresh, complete=complete)
        custom = await asyncio.to_thread(self._custom_entries, user, listing)
        return {"data": listing.entries + custom, "pending": list(listing.pending)}

    def prefetch(self) -> None:
        """On the loop: start a round now (when oui is first used), so that the first list
        finds the clients built and the connections asked."""
        _in_background(self._prefetch())

    async def _prefetch(self) -> None:
        try:
            await self._fresh_listing(complete=True)
        except Exception:
            log.warning("oui: could not fetch the model lists", exc_info=True)

    async def list_models(self, user: UserInfo) -> list[dict[str, Any]]:
        return list((await self.model_list(user))["data"])

    async def _fresh_listing(self, force: bool = False, complete: bool = False) -> _Listing:
        """The cached listing while fresh, else a round's: all of it when it ends within the
        budget (or ``complete``), else what has answered so far, the rest from memory."""
        listing = self._listing
        if listing is not None and not force and time.monotonic() - listing.at < self.cache_ttl:
            return listing
        if self._settings is None:
            await asyncio.to_thread(self.settings)
        if self._known is None:
            known = await asyncio.to_thread(self._load_known)
            if self._known is None:
                self._known = known
                self._known_saved = _known_json(known)
        round_ = self._round
        if (
            round_ is None
            or round_.task is None
            or round_.task.done()
            or round_.generation != self._generation
        ):
            round_ = self._round = _Round(self._generation, dict(self._providers))
            round_.task = asyncio.ensure_future(self._fetch_all(round_))
        task = round_.task
        assert task is not None
        if complete:
            return await asyncio.shield(task)
        await round_.ready.wait()
        wait = round_.started + self.list_budget - time.monotonic()
        if not task.done() and wait > 0:
            await asyncio.wait({task}, timeout=wait)  # never cancels the round
        if task.done():
            return task.result()
        round_.served_partial = True
        return self._build(round_)

    async def _fetch_all(self, round_: _Round) -> _Listing:
        async def one(key: str, provider: OpenAICompatProvider) -> None:
            try:
                result = await self._fetch_one(key, provider)
            except Exception as exc:
                self._note_failure(key, provider.connection, exc)
                round_.outcomes[key] = exc
            else:
                self._note_success(key, provider.connection, result)
                round_.outcomes[key] = result

        try:
            # The first client pays the openai/aiohttp import (in a thread) and a TLS context.
            await asyncio.gather(
                *(p.client() for p in round_.providers.values()), return_exceptions=True
            )
        finally:
            round_.started = time.monotonic()
            round_.ready.set()
        await asyncio.gather(*(one(key, p) for key, p in round_.providers.items()))
        listing = self._build(round_)
        if round_.generation == self._generation:
            self._listing = listing
            if round_.served_partial and self.on_updated is not None:
                try:
                    self.on_updated()
                except Exception:
                    log.exception("oui: could not announce the new model list")
        _in_background(self._save_known())
        return listing

    def _note_failure(self, key: str, connection: Connection, exc: BaseException) -> None:
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        if self._reported.get(key) != reason:
            self._reported[key] = reason
            log.warning("oui: models of connection %s unavailable: %s", connection.label, reason)

    def _note_success(self, key: str, connection: Connection, models: list[dict[str, Any]]) -> None:
        if key in self._reported:
            log.info("oui: connection %s is reachable again", connection.label)
            self._reported.pop(key)
        if self._known is None:
            self._known = {}
        trimmed = [{k: m[k] for k in KNOWN_FIELDS if k in m} for m in models]
        self._known[key] = _Known(connection.base_url, trimmed)

    def _known_models(self, key: str, connection: Connection) -> list[dict[str, Any]] | None:
        known = (self._known or {}).get(key)
        return known.models if known is not None and known.url == connection.base_url else None

    def _load_known(self) -> dict[str, _Known]:
        try:
            stored = self.config_store.get(KNOWN_KEY) or {}
        except Exception:
            log.warning("oui: could not read the last known model lists", exc_info=True)
            return {}
        known = {}
        if isinstance(stored, dict):
            for key, item in stored.items():
                if not isinstance(item, dict) or not isinstance(item.get("models"), list):
                    continue
                models = [m for m in item["models"] if isinstance(m, dict) and m.get("id")]
                known[str(key)] = _Known(str(item.get("url") or ""), models)
        return known

    async def _save_known(self) -> None:
        """Keep the last good listings in the database when they changed."""
        value = _known_json(self._known or {})
        if value == self._known_saved:
            return
        self._known_saved = value
        try:
            await asyncio.to_thread(self.config_store.set, KNOWN_KEY, value)
        except Exception:
            log.warning("oui: could not keep the model lists in the database", exc_info=True)

    def _build(self, round_: _Round) -> _Listing:
        entries: list[dict[str, Any]] = []
        routes: dict[str, tuple[str, str]] = {}
        pending: list[str] = []
        for key, provider in round_.providers.items():
            connection = provider.connection
            last = self._known_models(key, connection)
            waiting = key not in round_.outcomes
            result = round_.outcomes.get(key)
            reason: str | None = None
            if waiting:
                pending.append(connection.idx)
                available = last is not None
                models = last if last is not None else [{"id": m} for m in connection.model_ids]
                if last is None:
                    reason = f"The model server at {provider.label} has not listed its models yet"
            elif isinstance(result, BaseException):
                reason = getattr(result, "message", None) or f"{type(result).__name__}: {result}"
                if last is not None and isinstance(result, ProviderTimeout):
                    # Slow is not down (a one-slot llama.cpp busy generating): keep what it
                    # listed last time, usable; a chat to it says so if it really is down.
                    available, models, reason = True, last, None
                else:
                    available = False
                    models = last or [{"id": m} for m in connection.model_ids]
            else:
                available, models = True, result or []
            for model in models:
                upstream_id = str(model.get("id", ""))
                if not upstream_id or (
                    connection.model_ids and upstream_id not in connection.model_ids
                ):
                    continue
                public = connection.public_id(upstream_id)
                entry = {
                    "id": public,
                    "name": str(model.get("name") or public),
                    "object": "model",
                    "created": int(model.get("created") or 0),
                    "owned_by": str(model.get("owned_by") or "openai"),
                    "connection": connection.idx,
                    "connection_type": "external",
                    "available": available,
                    "tags": [{"name": t} for t in connection.tags],
                    "info": {
                        "meta": {"capabilities": {"vision": connection.sees_images(upstream_id)}}
                    },
                }
                if waiting:
                    entry["pending"] = True
                if reason:
                    entry["unavailable_reason"] = reason
                entries.append(entry)
                routes.setdefault(public, (key, upstream_id))
        if self.local is not None:
            entry = {
                "id": LOCAL_MODEL_ID,
                "name": LOCAL_MODEL_NAME,
                "object": "model",
                "created": 0,
                "owned_by": "oui-local",
                "connection": "local",
                "connection_type": "local",
                "available": self.local.installed,
                "info": {
                    "meta": {
                        "description": "A tiny 135M-parameter model that runs offline "
                        "on this server's CPU: fine for trying things, weak at answers.",
                        "capabilities": {"vision": False},
                    }
                },
                "tags": [{"name": "local"}],
            }
            if not self.local.installed:
                entry["unavailable_reason"] = INSTALL_HINT
            entries.append(entry)
            if self.local.installed:
                routes.setdefault(LOCAL_MODEL_ID, ("local", LOCAL_MODEL_ID))
        return _Listing(time.monotonic(), entries, routes, pending)

    async def _fetch_one(self, key: str, provider: OpenAICompatProvider) -> list[dict[str, Any]]:
        # Building a client (its TLS context) takes a while on a busy machine: not network time.
        await provider.client()
        try:
            return await asyncio.wait_for(
                provider.list_models(self.fetch_timeout), self.fetch_timeout
            )
        except asyncio.TimeoutError:
            raise ProviderTimeout(
                f"The model server at {provider.label} did not list its models in time "
                f"({self.fetch_timeout:g} s)"
            ) from None

    def _custom_entries(self, user: UserInfo, listing: _Listing) -> list[dict[str, Any]]:
        by_id = {e["id"]: e for e in listing.entries}
        entries = []
        for row in self.custom_store.list():
            if not row.is_active or not self.can_read(user, row):
                continue
            base = by_id.get(row.base_model_id or "")
            entries.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "object": "model",
                    "created": int(row.created_at),
                    "owned_by": base["owned_by"] if base else "oui",
                    "connection": base["connection"] if base else None,
                    "connection_type": "custom",
                    "available": bool(base and base["available"]),
                    "info": self.custom_json(row),
                    "preset": True,
                    "tags": (row.meta or {}).get("tags", []),
                    **(
                        {}
                        if base
                        else {
                            "unavailable_reason": f"Base model {row.base_model_id} is not available"
                        }
                    ),
                }
            )
        return entries

    # ----- resolution -----
    def provider(self, key: str) -> OpenAICompatProvider:
        if key == "local" and self.local_provider is not None:
            return self.local_provider
        return self._providers[key]

    async def resolve(self, model_id: str, user: UserInfo) -> ResolvedModel:
        if not isinstance(model_id, str) or not model_id:
            raise InvalidInput("model is required")
        listing = await self._fresh_listing()
        route = listing.routes.get(model_id)
        if route is None and listing.pending:  # perhaps a model of a connection still asked
            listing = await self._fresh_listing(complete=True)
            route = listing.routes.get(model_id)
        if route is not None:
            return self._routed(model_id, route)
        row = await asyncio.to_thread(self._custom_row, model_id)
        if row is None:  # not a custom model: perhaps an upstream's new one
            listing = await self._fresh_listing(force=True, complete=True)
            route = listing.routes.get(model_id)
            if route is not None:
                return self._routed(model_id, route)
        if row is None or not row.is_active or not self.can_read(user, row):
            if model_id == LOCAL_MODEL_ID and self.local is not None and not self.local.installed:
                raise NotReady(INSTALL_HINT, reason="local_model_missing")
            hint = "" if self.local is None or self.local.installed else f". {INSTALL_HINT}"
            raise NotFound(f"Model {model_id} not found{hint}")
        base_route = listing.routes.get(row.base_model_id or "")
        if base_route is None:
            raise NotFound(f"Model {model_id}: its base model {row.base_model_id} is not available")
        params = dict(row.params or {})
        system = params.pop("system", None)
        capabilities = (row.meta or {}).get("capabilities")
        vision = capabilities.get("vision") if isinstance(capabilities, dict) else None
        return ResolvedModel(
            model_id,
            base_route[1],
            self.provider(base_route[0]),
            system=system if isinstance(system, str) and system.strip() else None,
            params=model_params(params),
            custom=True,
            knowledge=knowledge_items(row.meta),
            vision=vision if isinstance(vision, bool) else self._routed("", base_route).vision,
        )

    def _routed(self, model_id: str, route: tuple[str, str]) -> ResolvedModel:
        """A connection's model; it sees images when its connection says so."""
        provider = self.provider(route[0])
        return ResolvedModel(
            model_id, route[1], provider, vision=provider.connection.sees_images(route[1])
        )

    # ----- custom models -----
    def _custom_row(self, model_id: str) -> CustomModel | None:
        """The custom model of that id, if there is one (a database call)."""
        try:
            return self.custom_store.get(model_id)
        except NotFound:
            return None

    @staticmethod
    def can_read(user: UserInfo, row: CustomModel) -> bool:
        """A custom model without ``access_control`` is every user's (Open WebUI's rule)."""
        return authz.can_read(user, row, public=authz.is_public(row))

    @staticmethod
    def custom_json(row: CustomModel) -> dict[str, Any]:
        return {
            "id": row.id,
            "user_id": row.user_id,
            "base_model_id": row.base_model_id,
            "name": row.name,
            "params": row.params or {},
            "meta": row.meta or {},
            "access_control": row.access_control,
            "is_active": row.is_active,
            "created_at": int(row.created_at),
            "updated_at": int(row.updated_at),
        }

    def custom_models(self, user: UserInfo) -> list[dict[str, Any]]:
        return [self.custom_json(r) for r in self.custom_store.list() if self.can_read(user, r)]

    def custom_model(self, user: UserInfo, model_id: str) -> dict[str, Any]:
        row = self.custom_store.get(model_id)
        if not self.can_read(user, row):
            raise NotFound(f"Model {model_id} not found")
        return self.custom_json(row)

    async def create_custom(self, user: UserInfo, form: dict[str, Any]) -> dict[str, Any]:
        model_id = form.get("id")
        if not isinstance(model_id, str) or not MODEL_ID.match(model_id):
            raise InvalidInput("id must be 1-255 characters without spaces or slashes")
        if model_id in (await self._fresh_listing(complete=True)).routes:
            raise InvalidInput(f"{model_id} is already the id of a connection's model")
        fields = {"name": model_id, "params": {}, "meta": {}, **_custom_fields(form)}
        row = await asyncio.to_thread(self.custom_store.create, model_id, user.id, **fields)
        return self.custom_json(row)

    def update_custom(self, user: UserInfo, model_id: str, form: dict[str, Any]) -> dict[str, Any]:
        row = self.custom_store.get(model_id)
        if not self.can_read(user, row):
            raise NotFound(f"Model {model_id} not found")
        if not authz.can_write(user, row):
            raise Forbidden("Only the model's owner or an admin may change it")
        fields = _custom_fields(form)
        changes_access = fields.get("access_control", row.access_control) != row.access_control
        if changes_access and not authz.can_manage(user, row):
            raise Forbidden("Only the model's owner or an admin may change who may use it")
        return self.custom_json(self.custom_store.update(model_id, **fields))

    def toggle_custom(self, user: UserInfo, model_id: str) -> dict[str, Any]:
        row = self.custom_store.get(model_id)
        if not self.can_read(user, row):
            raise NotFound(f"Model {model_id} not found")
        if not authz.can_write(user, row):
            raise Forbidden("Only the model's owner or an admin may change it")
        return self.custom_json(self.custom_store.update(model_id, is_active=not row.is_active))

    def delete_custom(self, user: UserInfo, model_id: str) -> None:
        row = self.custom_store.get(model_id)
        if not self.can_read(user, row):
            raise NotFound(f"Model {model_id} not found")
        if not authz.can_manage(user, row):
            raise Forbidden("Only the model's owner or an admin may delete it")
        self.custom_store.delete(model_id)

    async def aclose(self) -> None:
        for provider in [
            *self._providers.values(),
            *([self.local_provider] if self.local_provider else []),
        ]:
            try:
                await provider.aclose()
            except OuiError:
                pass


def _custom_fields(form: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "name" in form:
        if not isinstance(form["name"], str) or not form["name"].strip():
            raise InvalidInput("name must be a non-empty string")
        fields["name"] = form["name"].strip()[:255]
    if "base_model_id" in form:
        if form["base_model_id"] is not None and not isinstance(form["base_model_id"], str):
            raise InvalidInput("base_model_id must be a string")
        fields["base_model_id"] = form["base_model_id"]
    for key in ("params", "meta"):
        if key in form:
            if not isinstance(form[key], dict):
                raise InvalidInput(f"{key} must be an object")
            fields[key] = form[key]
    if (
        "params" in fields
        and "system" in fields["params"]
        and not isinstance(fields["params"]["system"], (str, type(None)))
    ):
        raise InvalidInput("params.system must be a string")
    if "access_control" in form:
        fields["access_control"] = authz.validate_access_control(form["access_control"])
    if "is_active" in form:
        fields["is_active"] = bool(form["is_active"])
    return fields


_background: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` on the loop; the set keeps the task alive until it ends."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        work.close()
        return
    task = loop.create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _close_later(provider: OpenAICompatProvider) -> None:
    """Close a replaced provider's client soon."""
    _in_background(provider.aclose())


def _known_json(known: dict[str, _Known]) -> dict[str, Any]:
    return {key: {"url": k.url, "models": k.models} for key, k in known.items()}


def knowledge_items(meta: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A custom model's ``meta.knowledge`` (Open WebUI: collections and files) as the
    ``files`` items a chat turn retrieves from."""
    items = []
    for item in (meta or {}).get("knowledge") or []:
        if isinstance(item, dict) and item.get("id"):
            kind = "file" if item.get("type") == "file" else "collection"
            items.append({"type": kind, "id": str(item["id"])})
    return items
