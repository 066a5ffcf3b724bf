"""Fixtures of the team tests: a real JupyterHub with the oui team service (``support.hub``).

``hub`` (module scope: one hub per test module, started on first use): the example config with
test overrides, users alice, bob (plain), carol (hub admin) and dave (oui admin only), the
scripted OpenAI upstream as the team's connection. Its team database is a fresh database on
$OUI_TEST_POSTGRES_URL's server when that is set, else a cluster of the test's own
(``support.pgcluster``). A module may override ``hub_options`` (a dict of ``Hub`` keyword
arguments: ``service_args``, ``user_args``, ``config``, ``env``) or ``team_database_url``.
A failed test's report carries the hub's and the service's logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from support.hub import Hub
from support.pgcluster import PgCluster
from support.pgdatabase import fresh_database
from support.scripted_openai import ScriptedOpenAI


@pytest.fixture(scope="module")
def team_database_url() -> Iterator[str]:
    """A fresh, empty team database for this module's hub."""
    base = os.environ.get("OUI_TEST_POSTGRES_URL", "")
    if base:
        with fresh_database(base, "oui_team") as url:
            yield url
        return
    cluster = PgCluster().start()
    yield cluster.url
    cluster.stop()


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    """Override in a module to change the hub (keyword arguments of ``support.hub.Hub``)."""
    return {}


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory,
    team_database_url: str,
    scripted_openai_server: ScriptedOpenAI,
    hub_options: dict[str, Any],
) -> Iterator[Hub]:
    """A running hub with the oui service (servers are spawned by the tests: ``hub.spawn``)."""
    the_hub = Hub(
        tmp_path_factory.mktemp("hub"),
        database_url=team_database_url,
        upstream=scripted_openai_server.base_url,
        **hub_options,
    )
    try:
        the_hub.start()
    except BaseException:
        the_hub.close()
        raise
    yield the_hub
    the_hub.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    the_hub = getattr(item, "funcargs", {}).get("hub")
    if report.failed and isinstance(the_hub, Hub):
        report.sections.append(("hub and service logs", the_hub.logs(12_000)))
