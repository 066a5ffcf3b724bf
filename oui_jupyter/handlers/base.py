"""The base handler: authentication, JSON in and out, and the one error map."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import ensure_async
from tornado import web

from oui_jupyter import errors, json_pieces
from oui_jupyter.heap import collections_paused, release
from oui_jupyter.jsonlimits import MAX_JSON_DEPTH, has_escaped_nul, json_depth_exceeds
from oui_jupyter.runtime import Runtime, Services
from oui_jupyter.services.users import UserInfo, identity_from_jupyter

if TYPE_CHECKING:  # built after start: not imported at extension load
    from oui_jupyter.services.app_config import AppConfigService
    from oui_jupyter.services.chat_bulk import ChatBulkService
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.completions import CompletionService
    from oui_jupyter.services.models import ModelService
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.retrieval.knowledge import KnowledgeService
    from oui_jupyter.services.retrieval.service import RetrievalService
    from oui_jupyter.services.users import UserService
    from oui_jupyter.tools.registry import ToolRegistry

AUTH_RESOURCE = "oui"
NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)"
T = TypeVar("T")


def _paused(work: Callable[[], T]) -> T:
    with collections_paused():
        return work()


# The one place where domain errors become HTTP statuses.
ERROR_STATUS: dict[type[errors.OuiError], int] = {
    errors.MalformedRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.InvalidInput: 422,
    errors.RateLimited: 429,
    errors.ProviderTimeout: 504,
    errors.ProviderError: 502,
    errors.NotReady: 503,
}


def status_for(error: errors.OuiError) -> int:
    for klass in type(error).__mro__:
        if klass in ERROR_STATUS:
            return ERROR_STATUS[klass]
    return 500


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def convert_body(value: Any, schema: type[T]) -> T:
    """Validate decoded JSON against ``schema`` (strict types), where ``1.0`` may stand for the
    integer ``1``, as JSON Schema says. The walk only runs after a float was refused."""
    try:
        return msgspec.convert(value, type=schema)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise errors.InvalidInput(f"Invalid request body: {exc}") from None
    try:
        return msgspec.convert(_integral_floats_as_ints(value), type=schema)
    except msgspec.ValidationError as exc:
        raise errors.InvalidInput(f"Invalid request body: {exc}") from None


@dataclass(frozen=True)
class Operation:
    """What one verb of a route takes and answers: read by the OpenAPI generator."""

    summary: str
    body: Any = None
    query: Any = None
    response: Any = None
    content_type: str = "application/json"
    body_type: str = "application/json"
    statuses: tuple[int, ...] = field(default=())
    #: the body must name at least one of these fields, not null (else 422: nothing to do)
    body_needs_one_of: tuple[str, ...] = field(default=())
    #: JSON Schema rules across fields the server also enforces (``if``/``then``...)
    body_rules: dict[str, Any] | None = None
    #: a required body described by hand (uploads), in place of ``body``'s schema
    body_schema: dict[str, Any] | None = None


async def authorize_socket(handler: JupyterHandler) -> None:
    """What ``@authorized`` does for a verb, for a WebSocket's ``get`` (it has no such
    decorator): 403 unless Jupyter's authorizer lets the user read oui."""
    allowed = await ensure_async(
        handler.authorizer.is_authorized(handler, handler.current_user, "read", AUTH_RESOURCE)
    )
    if not allowed:
        raise web.HTTPError(403)


async def resolve_caller(handler: JupyterHandler, *, activate: bool) -> tuple[Services, UserInfo]:
    """The services (built on first need) and the authenticated caller as oui sees them:
    what every oui route (``OuiHandler.prepare``) and the events WebSocket start with.
    ``activate``: this request counts as using oui (starts background work)."""
    runtime: Runtime = handler.settings["oui_runtime"]
    services = await runtime.ready()
    if activate:
        services.activate()
    identity = identity_from_jupyter(handler.current_user, handler.settings.get("oui_owner"))
    users = services.users
    user = users.info(identity)
    if not users.is_saved(user):  # first sight, or something about them changed
        await asyncio.to_thread(users.save, user)
    return services, user


#: the OpenAI-compatible routes (after ``oui/api/``): no valid key there is a 401 (``OpenAIKeyAuth``)
OPENAI_KEY_PATHS = frozenset({"chat/completions", "v1/chat/completions", "models"})
#: the body of a 401 on the OpenAI-compatible routes, as OpenAI's own API answers it
OPENAI_KEY_ERROR = {
    "error": {
        "message": "Invalid or missing API key: send a Jupyter token as 'Authorization: Bearer ...'",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


class OpenAIKeyAuth(APIHandler):
    """Mixed in (first) by the OpenAI-compatible routes (``chat/completions``,
    ``v1/chat/completions``, ``models``): a caller with no valid key gets 401 with an
    OpenAI-shaped error and ``WWW-Authenticate: Bearer``, where Jupyter answers 403, so
    OpenAI clients raise their authentication error. An authenticated caller who is not
    authorized still gets 403."""

    def openai_key_route(self) -> bool:
        """Whether this request is on an OpenAI-compatible route (a catch-all narrows it)."""
        return True

    def _key_missing(self) -> bool:
        if not hasattr(self, "_jupyter_current_user"):
            return False  # refused before authentication
        return self._jupyter_current_user is None and self.check_host() and self.openai_key_route()

    def _handle_request_exception(self, e: BaseException) -> None:
        refused = isinstance(e, web.HTTPError) and e.status_code == 403
        if not (refused and self._key_missing()) or self._finished or self._headers_written:
            super()._handle_request_exception(e)
            return
        self.log.warning("oui %s %s -> 401: no valid key", self.request.method, self.request.path)
        self.clear()
        self.set_status(401)
        self.set_header("WWW-Authenticate", "Bearer")
        self.set_header("Content-Type", "application/json")
        self.finish(msgspec.json.encode(OPENAI_KEY_ERROR))


class OuiHandler(APIHandler):
    """Base of every oui route.

    Subclasses put ``@web.authenticated`` above ``@authorized`` on every verb, describe
    each verb in ``api`` for the OpenAPI document, parse with ``parse_body``/``parse_query``
    and answer with ``write_json``; services raise ``OuiError`` subclasses.
    """

    auth_resource = AUTH_RESOURCE
    api: ClassVar[dict[str, Operation]] = {}
    #: a request here counts as using oui (starts background work such as the index)
    activates = True
    services: Services
    user: UserInfo

    @property
    def runtime(self) -> Runtime:
        return self.settings["oui_runtime"]

    @property
    def max_body_size(self) -> int:
        return int(self.settings.get("oui_max_body_size", 10 * 1024 * 1024))

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is None:
            return  # @web.authenticated on the verb answers 403
        self.services, self.user = await resolve_caller(self, activate=self.activates)

    # ----- the services, typed (as jupyter_server's ``self.contents_manager``) -----
    @property
    def users(self) -> UserService:
        return self.services.users

    @property
    def chats(self) -> ChatService:
        return self.services.chats

    @property
    def chat_bulk(self) -> ChatBulkService:
        return self.services.chat_bulk

    @property
    def app_config(self) -> AppConfigService:
        return self.services.app_config

    @property
    def models(self) -> ModelService:
        return self.services.models

    @property
    def completions(self) -> CompletionService:
        return self.services.completions

    @property
    def retrieval(self) -> RetrievalService:
        return self.services.retrieval

    @property
    def knowledge(self) -> KnowledgeService:
        return self.services.knowledge

    @property
    def files(self) -> FileService:
        return self.services.files

    @property
    def tools(self) -> ToolRegistry:
        return self.services.tools

    # ----- input -----
    def parse_body(self, schema: type[T]) -> T:
        body = self.request.body or b""
        if len(body) > self.max_body_size:
            raise errors.PayloadTooLarge(
                f"Request body is {len(body)} bytes; the limit is {self.max_body_size}"
            )
        if not body.strip():
            body = b"{}"
        if json_depth_exceeds(body):
            raise errors.MalformedRequest(
                f"JSON body nested deeper than {MAX_JSON_DEPTH} arrays/objects"
            )
        try:
            value = json_pieces.decode(body, schema)
        except msgspec.ValidationError as exc:
            if "got `float`" not in str(exc):
                raise errors.InvalidInput(f"Invalid request body: {exc}") from None
            value = convert_body(msgspec.json.decode(body), schema)  # 1.0 is an integer too
        except msgspec.DecodeError as exc:
            raise errors.MalformedRequest(f"Malformed JSON body: {exc}") from None
        except RecursionError:  # a schema's own nesting on top of the body's
            raise errors.MalformedRequest("JSON body nested too deep") from None
        if has_escaped_nul(body):
            raise errors.InvalidInput(NUL_MESSAGE)
        return value

    def parse_json(self) -> Any:
        """The body as plain JSON (for routes that accept several shapes)."""
        return self.parse_body(Any)

    def parse_query(self, schema: type[T]) -> T:
        args = {
            name: values[-1].decode("utf-8", "replace")
            for name, values in self.request.query_arguments.items()
        }
        if any("\x00" in value for value in args.values()):
            raise errors.InvalidInput(NUL_MESSAGE)
        try:
            return msgspec.convert(args, type=schema, strict=False)
        except msgspec.ValidationError as exc:
            raise errors.InvalidInput(f"Invalid query: {exc}") from None

    @property
    def minimal(self) -> bool:
        """RFC 7240 ``Prefer: return=minimal``: answer a chat without its message tree."""
        return "return=minimal" in self.request.headers.get("Prefer", "").replace(" ", "")

    # ----- output -----
    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(msgspec.json.encode(value))

    async def off_loop(self, work: Callable[[], T]) -> T:
        """Run ``work`` (whose cost grows with a chat or an import) in a worker thread, with
        no garbage collection meanwhile (``heap.collections_paused``)."""
        return await asyncio.to_thread(_paused, work)

    async def write_json_off_loop(
        self, work: Callable[..., Any], *, body: Any = None, status: int = 200
    ) -> None:
        """Run ``work`` off the loop (``off_loop``) and encode its answer there too, with
        Tornado's Etag of a GET: the event loop only sends the bytes. With ``body`` (a
        schema), the request body is parsed there and given to ``work``. The answer and the
        body are then dropped a piece at a time (``heap.release``): ``work`` answers with
        values of its own."""
        etag = self.request.method in ("GET", "HEAD")

        def encoded() -> tuple[bytes, str | None]:
            parsed = None if body is None else self.parse_body(body)
            value = work() if body is None else work(parsed)
            data = json_pieces.encode(value)
            release(value)
            release(parsed)
            return data, f'"{hashlib.sha1(data).hexdigest()}"' if etag else None

        data, tag = await self.off_loop(encoded)
        if tag is not None:
            self.set_header("Etag", tag)
        self.set_status(status)
        self.finish(data)

    def _handle_request_exception(self, e: BaseException) -> None:
        if not isinstance(e, errors.OuiError):
            super()._handle_request_exception(e)
            return
        if self._finished:
            return
        status = status_for(e)
        self.log.warning(
            "oui %s %s -> %d: %s", self.request.method, self.request.path, status, e.message
        )
        if self._headers_written:
            return  # a streaming response reports its own errors
        self.clear()
        for name, value in e.headers.items():
            self.set_header(name, value)
        self.write_json({"message": e.message, "reason": e.reason, **e.fields}, status=status)
