"""``GET oui/api/v1/tools/`` and the built-in tools through a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support.polling import wait_indexed

from oui_jupyter.tools.base import ToolContext

from .conftest import ADMIN

BUILTINS = [
    "describe_variable",
    "edit_notebook",
    "kernel_variables",
    "list_files",
    "read_file",
    "read_notebook",
    "remember",
    "run_cells",
    "sql",
    "workspace_search",
]


@pytest.fixture
def oui_extra_config(jp_root_dir: Path) -> dict[str, Any]:
    (jp_root_dir / "penguins.md").write_text(
        "# Emperor penguins\n\nEmperor penguins dive deeper than any other bird.\n"
    )
    (jp_root_dir / "sales.csv").write_text("region,amount\nnorth,1\nnorth,2\nsouth,3\n")
    return {
        "admin_users": {"alice"},
        "index_start_delay": 0.0,
        "index_poll_interval": 0.3,
        # keyword search only: no embedding model is loaded
        "embedding_engine": "openai",
        "embedding_base_url": "http://127.0.0.1:9/v1",
        "tool_access_control": {"sql": {"read": {"user_ids": ["carol"]}}},
    }


async def test_list_tools(api):
    r = await api("GET", "v1/tools/")
    assert r.code == 200
    tools = r.json()
    assert [t["id"] for t in tools] == BUILTINS  # alice is an admin: sql too
    search = tools[-1]
    assert search == {
        "id": "workspace_search",
        "name": "workspace_search",
        "meta": {"description": search["spec"]["description"]},
        "spec": {
            "name": "workspace_search",
            "description": search["meta"]["description"],
            "parameters": search["spec"]["parameters"],
        },
        "source": "builtin",
        "requires_approval": False,
    }
    assert (await api("GET", "v1/tools")).code == 200


async def test_access_control(api):
    bobs = [t["id"] for t in (await api("GET", "v1/tools/", user="bob")).json()]
    carols = [t["id"] for t in (await api("GET", "v1/tools/", user="carol")).json()]
    assert "sql" not in bobs and "sql" in carols


async def test_builtins_run_in_the_server(api, jp_serverapp, jp_root_dir):
    await wait_indexed(api, files=2)
    services = jp_serverapp.web_app.settings["oui_runtime"].services
    ctx = ToolContext(user=ADMIN, root_dir=str(jp_root_dir))  # sql: carol and admins
    found = await services.tools.run(
        "workspace_search", {"query": "emperor penguins dive", "mode": "keyword"}, ctx
    )
    assert found.sources and found.sources[0]["path"] == "penguins.md"
    assert found.content.startswith('<source id="1" name="penguins.md')
    assert found.data["hits"] == len(found.sources)
    total, other = await asyncio.gather(
        services.tools.run("sql", '{"query": "SELECT sum(amount) FROM \'sales.csv\'"}', ctx),
        services.tools.run("read_file", {"path": "penguins.md", "end_line": 1}, ctx),
    )
    assert total.data["rows"] == [[6]]
    assert other.data["text"] == "# Emperor penguins"
