"""End to end: a real Jupyter server with the extension and the embedded SmolLM2 (llama.cpp),
notebooks executed in kernels that server starts, chats read back through the REST API.

The model is tiny: the checks are about structure (what was shown, what was saved, where),
not about the wording of the answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import nbformat
import pytest
from nb_live import (
    NOTEBOOKS,
    LiveServer,
    notebooks_status,
    outputs_text,
    start_live_server,
    stop_live_server,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, llama_server: str
) -> Iterator[LiveServer]:
    """One Jupyter server with the extension for this module, on the session's llama.cpp."""
    live = start_live_server(tmp_path_factory.mktemp("live"), llama_server)
    yield live
    stop_live_server(live)


def by_tag(nb: Any) -> dict[str, Any]:
    return {tag: cell for cell in nb.cells for tag in cell.get("metadata", {}).get("tags", [])}


def notebook_chat(live: LiveServer, title: str) -> dict[str, Any]:
    found = [
        c for c in live.api("GET", "v1/chats/search", params={"text": title}) if c["title"] == title
    ]
    assert len(found) == 1, found
    return live.api("GET", f"v1/chats/{found[0]['id']}")


def markdown_answer(cell: Any) -> str:
    shown = [o["data"]["text/plain"] for o in cell["outputs"] if "text/html" in o.get("data", {})]
    assert shown, cell["outputs"]
    return shown[-1]


def assert_clean(nb: Any, allowed_errors: tuple[str, ...] = ()) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if any(tag in allowed_errors for tag in tags):
            continue
        assert not errors, (cell.source, errors)
        stderr = outputs_text(cell, "stderr")
        assert "oui:" not in stderr, (cell.source, stderr)


def branch(chat: dict[str, Any]) -> list[dict[str, Any]]:
    return chat["chat"]["messages"]


def test_quickstart_notebook_chat_is_the_sidebars_chat(live_server: LiveServer) -> None:
    nb = live_server.execute("notebooks/01_quickstart.ipynb")
    assert_clean(nb)
    cells = by_tag(nb)
    assert "<td>smollm2</td>" in outputs_text(cells["models"])
    assert outputs_text(cells["use"]).strip() == "oui: using model smollm2"
    displays = [o for o in cells["first-chat"]["outputs"] if "text/html" in o.get("data", {})]
    assert len(displays) == 1  # one Markdown display, updated in place while the answer streamed
    first = markdown_answer(cells["first-chat"]).strip()
    second = markdown_answer(cells["second-chat"]).strip()
    assert first and second and "▌" not in first + second

    chat = notebook_chat(live_server, "notebooks/01_quickstart.ipynb")
    messages = branch(chat)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "In one sentence: what is a Jupyter notebook?"
    assert (
        messages[2]["content"]
        == "Name one popular Python library for data analysis, in one sentence."
    )
    assert messages[1]["content"].strip() == first
    assert messages[3]["content"].strip() == second
    assert (
        messages[3]["parentId"] == messages[2]["id"]
        and messages[2]["parentId"] == messages[1]["id"]
    )
    assert all(m.get("done", True) for m in messages)
    assert chat["id"] in outputs_text(cells["chats"])

    api_lines = outputs_text(cells["api"], "stdout").splitlines()
    assert api_lines[-1] == "2 messages saved"
    assert outputs_text(cells["api-stream"], "stdout").strip()
    scripted = notebook_chat(live_server, "Quickstart from code")
    assert [m["role"] for m in branch(scripted)] == ["user", "assistant"] * 2

    saved = json.dumps(nbformat.writes(nb))
    assert live_server.token not in saved  # the token never reaches the notebook


def test_dataframe_notebook_sends_the_description_and_explains_the_error(
    live_server: LiveServer,
) -> None:
    nb = live_server.execute("notebooks/04_dataframe.ipynb")
    assert_clean(nb, allowed_errors=("raises-exception",))
    cells = by_tag(nb)
    assert "KeyError" in json.dumps(cells["raises-exception"]["outputs"])
    assert markdown_answer(cells["describe"]).strip()
    assert markdown_answer(cells["explain"]).strip()
    messages = branch(notebook_chat(live_server, "notebooks/04_dataframe.ipynb"))
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert len(users) == 3 and len(messages) == 6
    assert "`sales` is a DataFrame with 8 rows and 5 columns." in users[0]
    assert "- amount_cents: int64, 8 non-null" in users[0] and "North" in users[0]
    assert users[1].endswith("Answer with one Python code block.")
    assert "KeyError: 'amount_eur'" in users[2] and 'sales["amount_eur"].sum()' in users[2]


def test_widgets_notebook_uses_the_notebook_chat(live_server: LiveServer) -> None:
    wait_for_index(live_server)  # the SearchWidget's results are checked below
    nb = live_server.execute("notebooks/03_widgets.ipynb")
    assert_clean(nb)
    cells = by_tag(nb)
    for tag in ("chat-widget", "search-widget"):
        views = [o for o in cells[tag]["outputs"] if WIDGET_VIEW in o.get("data", {})]
        assert len(views) == 1
    answer = outputs_text(cells["ask"], "stdout").strip()
    messages = branch(notebook_chat(live_server, "notebooks/03_widgets.ipynb"))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"].strip() == answer
    assert messages[1]["model"] == "smollm2"
    # what the widgets showed, from the widget state nbclient saves in the notebook
    states = [w["state"] for w in nb.metadata["widgets"][WIDGET_STATE]["state"].values()]
    (picker,) = [w for w in states if w.get("description") == "Model"]
    assert "smollm2" in picker["_options_labels"][picker["index"]].lower()
    history = [w for w in states if w.get("_model_name") == "OutputModel" and w.get("outputs")]
    (shown,) = [o["data"]["text/plain"] for w in history for o in w["outputs"][-1:]]
    assert shown.startswith("**smollm2**: ") and answer in shown
    statuses = [w["value"] for w in states if "oui-status" in str(w.get("value", ""))]
    assert statuses == ['<span class="oui-status">Done</span>']
    (results,) = [w["value"] for w in states if '<ol class="oui-hits">' in str(w.get("value", ""))]
    assert results.count('<li class="oui-hit">') == 3
    assert 'href="/lab/tree/notebooks/example_project/' in results


def write_notebook(live: LiveServer, path: str, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    target = live.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def test_a_chat_continues_across_kernels_and_the_sidebar(live_server: LiveServer) -> None:
    path = "scratch/continue.ipynb"
    write_notebook(
        live_server,
        path,
        ["%load_ext oui_jupyter", "%%chat -m smollm2 --max-tokens 16\nSay one word."],
    )
    live_server.execute(path)
    chat = notebook_chat(live_server, path)
    # the sidebar continues the chat...
    live_server.api(
        "POST",
        f"v1/chats/{chat['id']}/message",
        json={"content": "From the sidebar: one more word.", "params": {"max_tokens": 16}},
    )
    # ...and a new kernel on the same notebook finds it by its title and continues it
    live_server.execute(path)
    messages = branch(notebook_chat(live_server, path))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "Say one word.",
        "From the sidebar: one more word.",
        "Say one word.",
    ]
    for parent, child in pairwise(messages):
        assert child["parentId"] == parent["id"]


def test_bad_input_against_the_real_server_is_one_line(live_server: LiveServer) -> None:
    path = "scratch/bad.ipynb"
    write_notebook(
        live_server,
        path,
        [
            "%load_ext oui_jupyter",
            "%%chat -m no-such-model\nhi",
            "%%chat --chat 00000000-0000-0000-0000-000000000000\nhi",
            "%%chat\n{not_defined}",
            "%%chat --knowledge no-such-collection\nhi",
        ],
    )
    nb = live_server.execute(path)
    expected = [
        "oui: unknown model 'no-such-model' (available: ",
        "oui: chat '00000000-0000-0000-0000-000000000000' not found",
        "oui: {not_defined} is not defined in the notebook",
        "oui: no knowledge collection named 'no-such-collection'",
    ]
    for cell, line in zip(nb.cells[1:], expected, strict=False):
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], cell["outputs"]
        text = outputs_text(cell, "stderr")
        assert text.startswith(line) and text.count("\n") == 1, (line, text)
    titles = [c["title"] for c in live_server.api("GET", "v1/chats/")]
    assert path not in titles  # nothing was created by failed cells


def test_workspace_notebook_cites_sources(live_server: LiveServer) -> None:
    nb = live_server.execute("notebooks/02_workspace_questions.ipynb", timeout=600)
    assert_clean(nb)
    cells = by_tag(nb)
    assert outputs_text(cells["status"]).startswith("Workspace index: ")
    assert "files indexed" in outputs_text(cells["wait"], "stdout")
    hits = outputs_text(cells["search"])
    assert hits.count('<li class="oui-hit">') == 5
    assert 'href="/lab/tree/notebooks/example_project/' in hits
    answer = markdown_answer(cells["workspace-chat"])
    assert "**Sources**" in answer and "](/lab/tree/" in answer
    messages = branch(notebook_chat(live_server, "notebooks/02_workspace_questions.ipynb"))
    assert messages[-1]["role"] == "assistant" and messages[-1].get("sources")


def wait_for_index(live: LiveServer) -> None:
    """The workspace index is idle with every chunk embedded (the client's own wait, over REST)."""
    from oui_jupyter.notebook.client import OuiClient
    from oui_jupyter.notebook.discovery import ServerInfo

    with OuiClient(ServerInfo(url=live.url, token=live.token)) as client:
        client.wait_for_index(timeout=300)


def stderr_lines(cell: Any) -> list[str]:
    return outputs_text(cell, "stderr").splitlines()


def test_every_chat_option_against_the_real_server(live_server: LiveServer) -> None:
    """-m, --new, --chat ID, --knowledge, -f text/json/code, %oui new/chats/status/search, the
    SearchWidget, in a kernel the server started; every chat read back through the REST API."""
    path = "scratch/options.ipynb"
    wait_for_index(live_server)
    sidebar = live_server.api(
        "POST", "v1/chats/new", json={"chat": {"title": "Started in the sidebar"}}
    )
    knowledge = live_server.api("POST", "v1/knowledge/create", json={"name": "cleaning rules"})
    cleaning = "notebooks/example_project/sales_cleaning.py"
    live_server.api("POST", f"v1/knowledge/{knowledge['id']}/file/add", json={"path": cleaning})
    write_notebook(
        live_server,
        path,
        [
            "%load_ext oui_jupyter",
            "import sys\nprint(sorted(m for m in ('torch', 'sentence_transformers', 'httpx', 'ipywidgets') if m in sys.modules))",
            "%oui new Options chat",
            "%%chat -m smollm2 -f text\nSay one word.",
            "%%chat --new\nSay two words.",
            "%%chat\nAnd one more word.",
            f"%%chat --chat {sidebar['id']}\nFrom the notebook: say one word.",
            '%%chat -f json\nAnswer with a JSON object whose key "a" is 1.',
            "%%chat -f code\nWrite Python code that prints hello.",
            "%%chat --knowledge 'cleaning rules'\nHow does clean_sales treat refunds?",
            "%oui chats",
            "%oui status",
            "%oui search clean_sales refunds -k 3",
            (
                "from oui_jupyter.notebook import SearchWidget\n"
                "search = SearchWidget('clean_sales refunds', k=2)\n"
                "print(len(search.hits), search.hits[0].path, search.hits[0].link)"
            ),
            (
                "from oui_jupyter.notebook import OuiClient\nfrom oui_jupyter.notebook.session import shared_session\n"
                "print(repr(OuiClient()), repr(shared_session().server), shared_session().server)"
            ),
            (
                "from oui_jupyter.notebook import AsyncOuiClient\n"
                "async with AsyncOuiClient() as client:\n"
                "    chat = await client.create_chat('Async from the kernel', model='smollm2')\n"
                "    turn = await client.stream_message(chat['id'], 'Say hi.')\n"
                "    pieces = [piece async for piece in turn]\n"
                "print(len(pieces) > 0, ''.join(pieces) == turn.message['content'], chat['id'])"
            ),
        ],
    )
    replies: list[dict[str, Any]] = []
    nb = live_server.execute(path, replies=replies)
    assert_clean(nb)
    cells = nb.cells
    assert (
        outputs_text(cells[1], "stdout").strip() == "[]"
    )  # no torch, not even httpx, at %load_ext

    options_id = outputs_text(cells[2], "stdout").split()[3].rstrip(";")
    options = live_server.api("GET", f"v1/chats/{options_id}")
    assert options["title"] == "Options chat"
    assert [m["content"] for m in branch(options) if m["role"] == "user"] == ["Say one word."]
    assert branch(options)[1]["model"] == "smollm2"
    text_answer = outputs_text(cells[3], "stdout").strip()  # -f text: plain stdout, no Markdown
    assert text_answer == branch(options)[1]["content"].strip()
    assert not [o for o in cells[3]["outputs"] if "text/html" in o.get("data", {})]

    # --new starts a chat titled after the notebook; the cells after it continue it
    fresh = notebook_chat(live_server, path)
    users = [m["content"] for m in branch(fresh) if m["role"] == "user"]
    assert users[:2] == ["Say two words.", "And one more word."]
    assert users[2].startswith('Answer with a JSON object whose key "a" is 1.')
    assert users[2].endswith("Answer with JSON only.")
    assert users[3].endswith("Answer with one Python code block.")
    assert users[4] == "How does clean_sales treat refunds?"
    assert len(users) == 5 and len(branch(fresh)) == 10
    for parent, child in pairwise(branch(fresh)):
        assert child["parentId"] == parent["id"]

    # --chat ID continued the sidebar's chat for that cell only
    continued = branch(live_server.api("GET", f"v1/chats/{sidebar['id']}"))
    assert [m["role"] for m in continued] == ["user", "assistant"]
    assert continued[0]["content"] == "From the notebook: say one word."
    assert markdown_answer(cells[6]).strip() == continued[1]["content"].strip()

    # -f json: the value is displayed, or one line says the tiny model's answer was not JSON
    json_shown = [
        o["data"]["application/json"]
        for o in cells[7]["outputs"]
        if "application/json" in o.get("data", {})
    ]
    not_json = stderr_lines(cells[7]) == ["oui: the answer is not valid JSON (shown above as text)"]
    assert bool(json_shown) != not_json, cells[7]["outputs"]
    # -f code: the answer's code goes into a new cell below (the set_next_input payload)
    code_reply = replies[8]
    (payload,) = [p for p in code_reply.get("payload", []) if p.get("source") == "set_next_input"]
    assert payload["text"].strip() and payload["replace"] is False
    assert payload["text"].strip() in branch(fresh)[7]["content"]

    # --knowledge: sources come from the collection only, shown under the answer with links
    cited = branch(fresh)[9]
    assert cited["sources"] and {s["path"] for s in cited["sources"]} == {cleaning}
    shown = markdown_answer(cells[9])
    assert "**Sources**" in shown and f"](/lab/tree/{cleaning})" in shown

    chats_table = outputs_text(cells[10])
    for chat_id in (options_id, fresh["id"], sidebar["id"]):
        assert f"<td>{chat_id}</td>" in chats_table
    assert (
        f"<tr><td>✓</td><td>{path}</td><td>{fresh['id']}</td></tr>" in chats_table
    )  # the current chat
    assert outputs_text(cells[11]).startswith("Workspace index: idle, ")
    hits = outputs_text(cells[12])
    assert (
        hits.count('<li class="oui-hit">') == 3 and 'href="/lab/tree/' in hits and "lines " in hits
    )
    count, hit_path, hit_link = outputs_text(cells[13], "stdout").split()
    assert count == "2" and hit_link == "/lab/tree/" + hit_path
    shown_server = outputs_text(cells[14], "stdout")
    assert live_server.url in shown_server and live_server.token not in shown_server
    streamed, whole, async_id = outputs_text(cells[15], "stdout").split()
    assert (streamed, whole) == ("True", "True")
    async_chat = live_server.api("GET", f"v1/chats/{async_id}")
    assert async_chat["title"] == "Async from the kernel"
    assert branch(async_chat)[0]["content"] == "Say hi."


def test_bad_input_in_line_magics_is_one_line(live_server: LiveServer) -> None:
    path = "scratch/bad_lines.ipynb"
    write_notebook(
        live_server,
        path,
        [
            "%load_ext oui_jupyter",
            "%oui use ghost-model",
            "%oui chat 00000000-0000-0000-0000-000000000000",
            "%%chat --with not_a_variable\nhi",
            "%oui explain",
            "%oui search",
            "%%chat\n\n",
        ],
    )
    nb = live_server.execute(path)
    expected = [
        "oui: unknown model 'ghost-model' (available: smollm2",
        "oui: chat '00000000-0000-0000-0000-000000000000' not found (list yours with %oui chats)",
        "oui: --with not_a_variable: not_a_variable is not defined in the notebook",
        "oui: no exception to explain yet (run the failing cell first)",
        "oui: %oui search needs a query",
        "oui: the cell is empty: write the question below %%chat",
    ]
    for cell, line in zip(nb.cells[1:], expected, strict=True):
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], cell["outputs"]
        (shown,) = stderr_lines(cell)
        assert shown.startswith(line), (line, shown)
    assert path not in [c["title"] for c in live_server.api("GET", "v1/chats/")]


def test_fresh_server_with_no_configuration_answers_from_the_embedded_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The issue's 'done when': no connection configured, the extension's own llama.cpp serves
    SmolLM2; ``%load_ext`` then ``%%chat`` answers, and the chat is there over REST."""
    live = start_live_server(
        tmp_path_factory.mktemp("fresh"),
        "",
        extra={"openai_api_base_urls": [], "openai_api_keys": [], "local_model_enabled": True},
    )
    try:
        path = "fresh.ipynb"
        write_notebook(live, path, ["%load_ext oui_jupyter", "%%chat\nSay hello in two words."])
        nb = live.execute(path)
        assert_clean(nb)
        shown = markdown_answer(nb.cells[1]).strip()
        messages = branch(notebook_chat(live, path))
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[1]["content"].strip() == shown and shown
        models = live.api("GET", "models")["data"]
        assert messages[1]["model"] in {m["id"] for m in models}
    finally:
        stop_live_server(live)


def test_the_server_going_down_is_one_line_in_the_cell(
    tmp_path_factory: pytest.TempPathFactory, llama_server: str
) -> None:
    """A kernel that outlives its server (one of a script or console, which finds the server
    through OUI_SERVER_URL/OUI_TOKEN: a kernel the server started exits with it): once the
    server is killed, the next magics, widgets and clients say in one line that it cannot be
    reached."""
    import os

    from nbclient import NotebookClient

    live = start_live_server(tmp_path_factory.mktemp("down"), llama_server)
    path = "down.ipynb"
    write_notebook(
        live,
        path,
        [
            "%load_ext oui_jupyter",
            "%oui models",
            "%%chat\nhi",
            "%oui chats",
            "from oui_jupyter.notebook import ChatWidget\nprint(ChatWidget().status.value)",
            "from oui_jupyter.notebook import OuiClient\nOuiClient().models()",
        ],
    )
    nb = nbformat.read(live.root / path, as_version=4)
    env = {**os.environ, "OUI_SERVER_URL": live.url, "OUI_TOKEN": live.token}
    runner = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(live.root)}},
    )
    try:
        with runner.setup_kernel(env=env):
            for index in (0, 1):
                runner.execute_cell(nb.cells[index], index)
            assert "<td>smollm2</td>" in outputs_text(nb.cells[1])
            live.process.kill()  # no clean shutdown
            live.process.wait(10)
            for index in range(2, len(nb.cells)):
                runner.execute_cell(nb.cells[index], index)
    finally:
        stop_live_server(live)
    down = "oui: cannot reach the Jupyter server at "
    for cell in nb.cells[2:]:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], cell["outputs"]
        text = outputs_text(cell)
        assert text.count(down) == 1 and text.strip().count("\n") == 0, text
        assert "is it running?" in text and "Traceback" not in text and "httpx" not in text
    assert live.token not in nbformat.writes(nb)


def test_running_the_examples_leaves_the_tracked_notebooks_as_they_are(
    live_server: LiveServer,
) -> None:
    """The examples run (and are saved, as Lab saves them) in lab.sh's copy: the copy has the
    outputs, notebooks/ is as it was (`git status --porcelain notebooks/`). Runs last in this
    module, after the other tests ran the four examples."""
    path = "notebooks/01_quickstart.ipynb"
    live_server.execute(path)
    saved = nbformat.read(live_server.root / path, as_version=4)
    assert any(cell.get("outputs") for cell in saved.cells)  # the run was saved to the copy
    tracked = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in tracked.cells if cell.cell_type == "code")
    if live_server.tracked_before is None:
        pytest.skip("not a git checkout: the tracked notebooks' status is unknown")
    assert notebooks_status() == live_server.tracked_before
