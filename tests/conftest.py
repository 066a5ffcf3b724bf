"""Shared fixtures: a real Jupyter server with the extension, on SQLite or PostgreSQL.

Tests marked ``storage`` run once per database backend. The PostgreSQL leg needs
``OUI_TEST_POSTGRES_URL`` (CI sets it); without it, it is skipped with a plain message,
unless ``OUI_REQUIRE_POSTGRES=1`` (CI), where a missing server fails the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

pytest_plugins = (
    "pytest_jupyter.jupyter_server",
    "support.llama_server",
    "support.scripted_openai",
    "support.scripted_media",
)

POSTGRES_URL = os.environ.get("OUI_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("OUI_REQUIRE_POSTGRES", "") == "1"
_postgres_not_run: list[str] = []


REQUIRE_ALL = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """In CI nothing may be skipped: a skip there (a missing model, browser or server) fails."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where every test must run: {reason}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "storage: runs on SQLite and on PostgreSQL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API leaves an event loop behind in the main thread."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "oui_database_url" not in metafunc.fixturenames:
        return
    backends = (
        ["sqlite", "postgres"] if metafunc.definition.get_closest_marker("storage") else ["sqlite"]
    )
    metafunc.parametrize("oui_database_url", backends, indirect=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _postgres_not_run:
        terminalreporter.write_line(
            f"PostgreSQL leg NOT RUN for {len(_postgres_not_run)} tests: set "
            "OUI_TEST_POSTGRES_URL=postgresql://user@host:5432/db to run it.",
            yellow=True,
        )


def _fresh_postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of ``url``; returns its URL and a dropper."""
    from support.pgdatabase import create_database

    return create_database(url)


@pytest.fixture
def oui_database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'oui-test.db'}"
        return
    yield from _postgres_database(request)


@pytest.fixture
def postgres_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that are about PostgreSQL itself."""
    yield from _postgres_database(request)


def _postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("OUI_REQUIRE_POSTGRES=1 but OUI_TEST_POSTGRES_URL is not set")
        _postgres_not_run.append(request.node.nodeid)
        pytest.skip("PostgreSQL leg not run: set OUI_TEST_POSTGRES_URL to run it")
    url, drop = _fresh_postgres_database(POSTGRES_URL)
    yield url
    drop()


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    """Override in a test module to add ``OuiJupyter`` settings."""
    return {}


@pytest.fixture
def jp_server_config(
    oui_database_url: str, tmp_path: Any, oui_extra_config: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"oui_jupyter": True},
            "allow_unauthenticated_access": False,
            "identity_provider_class": "support.identity.MultiUserIdentityProvider",
        },
        "OuiJupyter": {
            "database_url": oui_database_url,
            "data_dir": str(tmp_path / "oui-data"),
            "warm_up_delay": 0.0,
            **oui_extra_config,
        },
    }


class ApiResponse:
    def __init__(self, code: int, body: bytes, headers: Any) -> None:
        self.code = code
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body)


ApiCall = Callable[..., Awaitable[ApiResponse]]


@pytest.fixture
def api(jp_fetch: Any) -> ApiCall:
    """``await api("GET", "v1/chats/", user="alice")``: JSON in, status + body out, no raising."""

    async def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str | None = "alice",
        raw: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 20.0,
    ) -> ApiResponse:
        all_headers = dict(headers or {})
        if user is not None:
            all_headers["Authorization"] = f"token {user}-token"
        kwargs: dict[str, Any] = {
            "method": method,
            "headers": all_headers,
            "request_timeout": timeout,
        }
        if params:
            kwargs["params"] = params
        if method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = (
                raw if raw is not None else json.dumps(body if body is not None else {})
            )
        elif method == "DELETE" and (body is not None or raw is not None):
            kwargs["body"] = raw if raw is not None else json.dumps(body)
            kwargs["allow_nonstandard_methods"] = True
        try:
            response = await jp_fetch("oui", "api", *path.split("/"), **kwargs)
        except HTTPClientError as error:
            assert error.response is not None, error
            return ApiResponse(error.code, error.response.body, error.response.headers)
        return ApiResponse(response.code, response.body, response.headers)

    return call
