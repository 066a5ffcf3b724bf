"""The route census: every verb of every route in the table refuses strangers on a real server.

The calls are generated from ``ROUTES``, so a new route is covered without touching this file.
Each runs twice: under the test servers' ``allow_unauthenticated_access=False`` (Jupyter itself
refuses anonymous requests), and under Jupyter's default ``True``, where only the handlers'
own ``@web.authenticated`` / ``@ws_authenticated`` stand in the way. The XSRF check would
refuse a stranger's POST before any handler code runs, so the calls carry a matching XSRF
cookie and header: what refuses them is then the authentication of the route itself.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.web import RequestHandler
from tornado.websocket import websocket_connect

from oui_jupyter.handlers.base import OPENAI_KEY_PATHS
from oui_jupyter.handlers.events import EventsHandler
from oui_jupyter.handlers.routes import ROUTES

#: What each path parameter is filled with: an id that names nothing.
DUMMY_ID = "census-dummy-id"
NAMED_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")
OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*(?:\([^()]*\)[^()]*)*\)\?")

CREDENTIALS: dict[str, dict[str, str]] = {
    "anonymous": {},
    "wrong token": {"Authorization": "token wrong-token"},
    "wrong bearer": {"Authorization": "Bearer wrong-token"},
}
XSRF = "census-xsrf-token"

# Jupyter warns of a route without authentication when it loads the extension (an error in
# this suite, so the extension would not load at all): let it load here, so that the census
# names the exposed route instead of finding the whole API missing.
pytestmark = pytest.mark.filterwarnings("ignore::jupyter_server.utils.JupyterServerAuthWarning")


class Call(NamedTuple):
    method: str
    path: str
    handler: type[RequestHandler]


def sample_path(pattern: str) -> str:
    """A concrete path matched by ``pattern``: ids filled in, optional parts left out."""
    path = OPTIONAL_GROUP.sub("", pattern)
    path = NAMED_GROUP.sub(DUMMY_ID, path)
    return path.replace("/?", "/").replace("\\.", ".")


def implemented_methods(handler: type[RequestHandler]) -> list[str]:
    """The HTTP methods whose code this project wrote (the handler's or an oui base class's).

    Verbs left to tornado answer 405, and ``OPTIONS`` is jupyter_server's CORS preflight.
    """
    methods = []
    for method in handler.SUPPORTED_METHODS:
        owner = next((k for k in handler.__mro__ if method.lower() in vars(k)), None)
        if owner is not None and owner.__module__.startswith("oui_jupyter."):
            methods.append(method)
    return methods


def census() -> Iterator[Call]:
    for pattern, handler in ROUTES:
        for method in implemented_methods(handler):
            yield Call(method, sample_path(pattern), handler)


CENSUS = list(census())


def test_the_census_reaches_every_route_and_documented_verb() -> None:
    """Each sample path is routed to its own handler, and no route is left out."""
    assert {call.handler for call in CENSUS} == {handler for _pattern, handler in ROUTES}
    for pattern, handler in ROUTES:
        path = sample_path(pattern)
        first = next(h for p, h in ROUTES if re.fullmatch(p, path))
        assert first is handler, f"{path} is routed to {first.__name__}, not {handler.__name__}"
        documented = {verb.upper() for verb in getattr(handler, "api", {})}
        assert documented <= set(implemented_methods(handler)), handler.__name__


@pytest.fixture(params=[False, True], ids=["jupyter-refuses-anonymous", "handlers-alone"])
def allow_unauthenticated_access(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def jp_server_config(
    jp_server_config: dict[str, Any], allow_unauthenticated_access: bool
) -> dict[str, Any]:
    config = copy.deepcopy(jp_server_config)
    config["ServerApp"]["allow_unauthenticated_access"] = allow_unauthenticated_access
    return config


async def status_of(client: Any, url: str, method: str, headers: dict[str, str]) -> int:
    """The status a stranger gets, XSRF satisfied and redirects not followed."""
    response = await client.fetch(
        url,
        method=method,
        headers={**headers, "Cookie": f"_xsrf={XSRF}", "X-XSRFToken": XSRF},
        body="{}" if method in ("POST", "PUT", "PATCH") else None,
        follow_redirects=False,
        raise_error=False,
    )
    return int(response.code)


async def test_every_route_and_verb_refuses_strangers(
    http_server_client: Any, jp_base_url: str
) -> None:
    offenders = []
    for call in CENSUS:
        url = url_path_join(jp_base_url, "oui", "api", call.path)
        for name, headers in CREDENTIALS.items():
            code = await status_of(http_server_client, url, call.method, headers)
            # the OpenAI-compatible routes answer as OpenAI does (401), the others as Jupyter
            if code != (401 if call.path in OPENAI_KEY_PATHS else 403):
                offenders.append(
                    f"{call.method} {call.path} ({call.handler.__name__}), {name}: {code}"
                )
    assert not offenders, "\n".join(offenders)


class Unguarded(APIHandler):
    """A route without authentication: what the census must catch."""

    def get(self) -> None:
        self.finish("{}")

    post = put = patch = delete = get


async def test_the_census_catches_a_route_without_authentication(
    jp_serverapp: Any,
    http_server_client: Any,
    jp_base_url: str,
    allow_unauthenticated_access: bool,
) -> None:
    url = url_path_join(jp_base_url, "oui-census-control")
    jp_serverapp.web_app.add_handlers(".*$", [(url, Unguarded)])
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        code = await status_of(http_server_client, url, method, CREDENTIALS["anonymous"])
        assert code == (403 if not allow_unauthenticated_access else 200), method


@pytest.mark.parametrize("credentials", ["anonymous", "wrong token", "wrong bearer", "wrong query"])
async def test_the_events_socket_refuses_strangers(
    http_server_client: Any, jp_http_port: int, jp_base_url: str, credentials: str
) -> None:
    routes: dict[str, object] = dict(ROUTES)
    assert routes["events"] is EventsHandler
    url = f"ws://127.0.0.1:{jp_http_port}{url_path_join(jp_base_url, 'oui', 'api', 'events')}"
    headers = CREDENTIALS.get(credentials, {})
    if credentials == "wrong query":
        url += "?token=wrong-token"
    with pytest.raises(HTTPClientError) as refused:
        ws = await websocket_connect(HTTPRequest(url, headers=headers))
        ws.close()
    assert refused.value.code == 403


async def test_the_events_socket_opens_for_a_user(
    http_server_client: Any, jp_http_port: int, jp_base_url: str
) -> None:
    """The census's socket URL is the right one: with a real token, it opens."""
    url = f"ws://127.0.0.1:{jp_http_port}{url_path_join(jp_base_url, 'oui', 'api', 'events')}"
    # A refused socket raises here (403 before the upgrade).
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": "token alice-token"}))
    assert ws.close_code is None  # open, not closed by the server
    ws.close()
