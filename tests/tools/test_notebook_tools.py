"""kernel_variables, describe_variable, edit_notebook, run_cells and undo, on a real server
with a real kernel (the notebook's session, started through the server's session manager)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import ToolContext, ToolError

pytestmark = pytest.mark.storage

ALICE = UserInfo("alice", "alice", "Alice", "user", ())
SNAPSHOT = (
    "__import__('json').dumps([sorted(k for k in get_ipython().user_ns), "
    "repr(get_ipython().user_ns.get('_')), sorted(get_ipython().user_ns['Out']), "
    "get_ipython().execution_count, len(get_ipython().user_ns['In'])])"
)


def write_nb(path: Path) -> bytes:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Sales", id="intro"),
            new_code_cell("import pandas as pd\nx = 41", id="setup"),
            new_code_cell("x + 1", id="answer"),
        ]
    )
    text = json.dumps(nb, indent=2)  # not the contents manager's own format: undo keeps it
    path.write_text(text)
    return text.encode()


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    # the long cell must still run when kernel_variables gives up (2 s after it starts)
    return {"tool_kernel_timeout": 2.0, "tool_run_cell_timeout": 10.0}


@pytest.fixture
def notebook(jp_root_dir: Path) -> bytes:
    (jp_root_dir / "data").mkdir()
    return write_nb(jp_root_dir / "data" / "nb.ipynb")


async def built(api: Any, jp_serverapp: Any) -> Any:
    """The server's services (the first request builds them)."""
    await api("GET", "v1/tools/")
    return jp_serverapp.web_app.settings["oui_runtime"].services


async def start_kernel(jp_serverapp: Any) -> str:
    """A real kernel for data/nb.ipynb, as JupyterLab starts one (the server shuts it down)."""
    session = await jp_serverapp.session_manager.create_session(
        path="data/nb.ipynb", name="nb.ipynb", type="notebook", kernel_name="python3"
    )
    return str(session["kernel"]["id"])


async def new_chat(api: Any, user: str = "alice") -> str:
    messages = {
        "u1": {
            "id": "u1",
            "parentId": None,
            "childrenIds": ["a1"],
            "role": "user",
            "content": "hi",
        },
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": ""},
    }
    body = {"chat": {"title": "T", "history": {"messages": messages, "currentId": "a1"}}}
    r = await api("POST", "v1/chats/new", body, user=user)
    assert r.code == 200, r.body
    return str(r.json()["id"])


def context(root: Path, chat_id: str | None = None, **kw: Any) -> ToolContext:
    values: dict[str, Any] = {"notebook_path": "data/nb.ipynb", "message_id": "a1", **kw}
    return ToolContext(user=ALICE, root_dir=str(root), chat_id=chat_id, **values)


async def snapshot(ready: Any, kernel_id: str) -> Any:
    return json.loads(
        await ready.tools.get("kernel_variables", ALICE).tool.kernels.evaluate(
            kernel_id, SNAPSHOT, 10.0
        )
    )


# ----- kernel_variables and describe_variable -----
async def test_variables_leave_the_namespace_alone(jp_root_dir, api, jp_serverapp, notebook):
    ready = await built(api, jp_serverapp)
    kernel = await start_kernel(jp_serverapp)
    kernels = ready.tools.get("kernel_variables", ALICE).tool.kernels
    setup = (
        "import pandas as pd, numpy as np\n"
        "df = pd.DataFrame({'region': ['n', 's', None], 'amount': [1.5, 2.0, 3.0]})\n"
        "arr = np.zeros((3, 4))\nitems = [1, 2, 3]\nname = 'penguins'\n"
    )
    assert (await kernels.execute(kernel, setup, 30, 10_000)).status == "ok"
    shown = await kernels.execute(kernel, "name", 30, 10_000)  # sets _ and Out
    assert shown.outputs[0]["data"]["text/plain"] == "'penguins'"
    before = await snapshot(ready, kernel)
    assert before[1] == "'penguins'" and before[3] == 3
    ctx = context(jp_root_dir)

    listed = await ready.tools.run("kernel_variables", {}, ctx)
    by_name = {v["name"]: v for v in listed.data["variables"]}
    assert by_name["df"]["type"] == "pandas.DataFrame" and by_name["df"]["shape"] == [3, 2]
    assert by_name["arr"]["shape"] == [3, 4] and by_name["arr"]["dtype"] == "float64"
    assert by_name["items"]["len"] == 3 and by_name["name"]["value"] == "'penguins'"
    assert "pd" not in by_name and "In" not in by_name and "_" not in by_name
    assert "df: pandas.DataFrame" in listed.content

    described = await ready.tools.run("describe_variable", {"name": "df", "rows": 2}, ctx)
    columns = {c["name"]: c for c in described.data["columns"]}
    assert columns["amount"]["dtype"] == "float64" and columns["region"]["nulls"] == 1
    assert "1.5" in described.data["head"] and "3.0" not in described.data["head"]
    missing = ready.tools.run("describe_variable", {"name": "nope"}, ctx)
    with pytest.raises(ToolError, match="no variable named 'nope'"):
        await missing

    assert await snapshot(ready, kernel) == before  # names, _, Out, execution count, In


async def test_variables_need_a_kernel(notebook, jp_root_dir, api, jp_serverapp):
    ready = await built(api, jp_serverapp)
    with pytest.raises(ToolError, match="has no running kernel"):
        await ready.tools.run("kernel_variables", {}, context(jp_root_dir))
    with pytest.raises(ToolError, match="needs the notebook"):
        await ready.tools.run("kernel_variables", {}, context(jp_root_dir, notebook_path=None))


# ----- edit_notebook -----
def cells(path: Path) -> list[Any]:
    return list(nbformat.read(path, as_version=4).cells)


async def test_edit_marks_cells_and_emits(notebook, api, jp_root_dir, jp_serverapp):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    frames: list[str] = []

    class Sock:
        def send_frame(self, frame: str) -> None:
            frames.append(frame)

    ready.events.add("alice", Sock())
    ops = [
        {"op": "insert", "index": 1, "source": "print('hi')"},
        {"op": "replace", "cell": "answer", "source": "x * 2"},
        {"op": "delete", "cell": 0},
    ]
    result = await ready.tools.run(
        "edit_notebook", {"operations": ops}, context(jp_root_dir, chat_id)
    )
    assert result.data["cell_count"] == 3
    now = cells(jp_root_dir / "data" / "nb.ipynb")
    assert [c.source for c in now] == ["print('hi')", "import pandas as pd\nx = 41", "x * 2"]
    mark = {"chat_id": chat_id, "message_id": "a1"}
    assert now[0].metadata["oui"] == mark and now[2].metadata["oui"] == mark
    assert "oui" not in now[1].metadata
    assert json.loads(frames[-1]) == {"type": "notebook:changed", "data": {"path": "data/nb.ipynb"}}
    assert ready.tools.get("edit_notebook", ALICE).tool.requires_approval is True
    assert ready.tools.get("run_cells", ALICE).tool.requires_approval is True


async def test_edit_refuses_bad_operations_and_changes_nothing(
    notebook, api, jp_root_dir, jp_serverapp
):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    ops = [{"op": "insert", "source": "1"}, {"op": "delete", "cell": "nope"}]
    with pytest.raises(ToolError, match=r"operation 1: .*no cell with id 'nope'; nothing"):
        await ready.tools.run("edit_notebook", {"operations": ops}, context(jp_root_dir, chat_id))
    assert (jp_root_dir / "data" / "nb.ipynb").read_bytes() == notebook
    with pytest.raises(ToolError, match="runs in a chat turn only"):
        await ready.tools.run("edit_notebook", {"operations": ops[:1]}, context(jp_root_dir))


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.ipynb", "'..' is refused"),
        ("/etc/passwd", "absolute paths are refused"),
        (".hidden/nb.ipynb", "hidden files and folders are refused"),
        (".nb.ipynb", "hidden files and folders are refused"),
        ("linked.ipynb", "leads outside the workspace"),
        ("data", "is a folder"),
        ("notes.txt", "is not a notebook"),
    ],
)
async def test_edit_and_run_are_confined(
    notebook, api, jp_root_dir, tmp_path, path, why, jp_serverapp
):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    outside = tmp_path / "outside.ipynb"
    write_nb(outside)
    (jp_root_dir / "linked.ipynb").symlink_to(outside)
    (jp_root_dir / ".hidden").mkdir()
    write_nb(jp_root_dir / ".hidden" / "nb.ipynb")
    write_nb(jp_root_dir / ".nb.ipynb")
    (jp_root_dir / "notes.txt").write_text("x")
    ctx = context(jp_root_dir, chat_id, notebook_path=path)
    ops = {"operations": [{"op": "insert", "source": "1"}]}
    for name, args in (("edit_notebook", ops), ("run_cells", {"cells": [0]})):
        with pytest.raises(ToolError, match=why):
            await ready.tools.run(name, args, ctx)
    assert outside.read_bytes() == (jp_root_dir / ".nb.ipynb").read_bytes()


# ----- run_cells -----
async def test_run_cells_writes_outputs(api, jp_root_dir, jp_serverapp, notebook):
    ready = await built(api, jp_serverapp)
    await start_kernel(jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    result = await ready.tools.run("run_cells", {"cells": ["setup", 2]}, ctx)
    assert [c["status"] for c in result.data["cells"]] == ["ok", "ok"]
    now = cells(jp_root_dir / "data" / "nb.ipynb")
    assert now[2].outputs[0]["data"]["text/plain"] == "42"
    assert now[2].execution_count == result.data["cells"][1]["execution_count"]
    assert now[2].metadata["oui"]["message_id"] == "a1"
    assert "[output] 42" in result.content

    edit = {"operations": [{"op": "insert", "source": "print('a' * 10)\n1/0\nprint('never')"}]}
    await ready.tools.run("edit_notebook", edit, ctx)
    ran = await ready.tools.run("run_cells", {"cells": [3, 2]}, ctx)
    assert len(ran.data["cells"]) == 1 and ran.data["cells"][0]["status"] == "error"  # stopped
    outputs = cells(jp_root_dir / "data" / "nb.ipynb")[3].outputs
    assert outputs[0]["text"] == "a" * 10 + "\n" and outputs[1]["ename"] == "ZeroDivisionError"


async def test_a_busy_kernel_and_a_cell_past_its_time(api, jp_root_dir, jp_serverapp, notebook):
    ready = await built(api, jp_serverapp)
    await start_kernel(jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    started = jp_root_dir / "long-cell-started"  # the cell says it runs (a kernel that is
    # still starting shows "busy" too, so its status proves nothing)
    source = f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(60)"
    await ready.tools.run(
        "edit_notebook", {"operations": [{"op": "insert", "source": source}]}, ctx
    )
    long_run = asyncio.ensure_future(ready.tools.run("run_cells", {"cells": [3]}, ctx))
    for _ in range(600):
        if started.exists() or long_run.done():
            break
        await asyncio.sleep(0.05)
    assert started.exists() and not long_run.done(), long_run
    with pytest.raises(ToolError, match="did not answer within 2 s"):
        await ready.tools.run("kernel_variables", {}, ctx)  # waits behind the running cell
    ran = await long_run
    assert ran.data["cells"][0]["status"] == "timeout"  # interrupted, not left running
    outputs = cells(jp_root_dir / "data" / "nb.ipynb")[3].outputs
    assert outputs[-1]["ename"] == "Timeout"
    again = await ready.tools.run("run_cells", {"cells": ["setup", "answer"]}, ctx)
    assert [c["status"] for c in again.data["cells"]] == ["ok", "ok"]


# ----- undo -----
async def undo(api: Any, chat_id: str, message_id: str = "a1", user: str = "alice") -> Any:
    return await api(
        "POST", "v1/tools/undo", {"chat_id": chat_id, "message_id": message_id}, user=user
    )


async def test_undo_restores_byte_for_byte(api, jp_root_dir, notebook, jp_serverapp):
    ready = await built(api, jp_serverapp)
    await start_kernel(jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    await ready.tools.run("edit_notebook", {"operations": [{"op": "insert", "source": "7"}]}, ctx)
    await ready.tools.run("run_cells", {"cells": [3]}, ctx)
    await ready.tools.run("edit_notebook", {"operations": [{"op": "delete", "cell": 0}]}, ctx)
    path = jp_root_dir / "data" / "nb.ipynb"
    assert path.read_bytes() != notebook
    r = await undo(api, chat_id)
    assert r.code == 200, r.body
    assert r.json() == {"restored": ["data/nb.ipynb"]}
    assert path.read_bytes() == notebook
    r = await undo(api, chat_id)
    assert r.code == 404 and "nothing to undo" in r.json()["detail"]


async def test_undo_keeps_the_users_other_changes(notebook, api, jp_root_dir, jp_serverapp):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    await ready.tools.run(
        "edit_notebook",
        {"operations": [{"op": "replace", "cell": "answer", "source": "x * 2"}]},
        ctx,
    )
    path = jp_root_dir / "data" / "nb.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "# Sales, by region"  # the user edits a cell the agent left alone
    nb.cells.append(new_code_cell("mine", id="mine"))
    nbformat.write(nb, path)
    r = await undo(api, chat_id)
    assert r.code == 200, r.body
    assert [c.source for c in cells(path)] == [
        "# Sales, by region",
        "import pandas as pd\nx = 41",
        "x + 1",
        "mine",
    ]


async def test_undo_refused_after_the_user_changed_a_touched_cell(
    notebook, api, jp_root_dir, jp_serverapp
):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    ops = [{"op": "replace", "cell": "answer", "source": "x * 2"}, {"op": "insert", "source": "9"}]
    await ready.tools.run("edit_notebook", {"operations": ops}, ctx)
    path = jp_root_dir / "data" / "nb.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "x * 3"  # the cell the agent replaced
    del nb.cells[3]  # the cell the agent inserted
    nbformat.write(nb, path)
    changed = path.read_bytes()
    r = await undo(api, chat_id)
    assert r.code == 409
    assert r.json()["detail"] == (
        "cells 2, 3 of data/nb.ipynb changed since this turn; nothing was undone"
    )
    assert path.read_bytes() == changed


async def test_undo_is_the_chat_owners(notebook, api, jp_root_dir, jp_serverapp):
    ready = await built(api, jp_serverapp)
    chat_id = await new_chat(api)
    ctx = context(jp_root_dir, chat_id)
    await ready.tools.run("edit_notebook", {"operations": [{"op": "insert", "source": "1"}]}, ctx)
    assert (await undo(api, chat_id, user="bob")).code == 404
    assert (await undo(api, chat_id, user="carol")).code == 404  # an admin too
    assert (await undo(api, chat_id, user=None)).code == 404  # the server's own token
    stranger = await api(
        "POST",
        "v1/tools/undo",
        {"chat_id": chat_id, "message_id": "a1"},
        user=None,
        headers={"Authorization": "token wrong-token"},
    )
    assert stranger.code in (401, 403)
    assert (await undo(api, chat_id, message_id="u1")).code == 404
    bad = await api("POST", "v1/tools/undo", {"chat_id": chat_id})
    assert bad.code == 422
    assert (await undo(api, chat_id)).code == 200
