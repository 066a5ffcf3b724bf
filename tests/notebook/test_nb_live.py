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
from nb_live import LiveServer, outputs_text, start_live_server, stop_live_server

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, llama_server: str) -> Iterator[LiveServer]:
    """One Jupyter server with the extension for this module, on the session's llama.cpp."""
    live = start_live_server(tmp_path_factory.mktemp("live"), llama_server)
    yield live
    stop_live_server(live)


def by_tag(nb: Any) -> dict[str, Any]:
    return {tag: cell for cell in nb.cells for tag in cell.get("metadata", {}).get("tags", [])}


def notebook_chat(live: LiveServer, title: str) -> dict[str, Any]:
    found = [c for c in live.api("GET", "v1/chats/search", params={"text": title}) if c["title"] == title]
    assert len(found) == 1, found
    return live.api("GET", f"v1/chats/{found[0]['id']}")


def markdown_answer(cell: Any) -> str:
    shown = [o["data"]["text/markdown"] for o in cell["outputs"] if "text/markdown" in o.get("data", {})]
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
    assert "`smollm2`" in outputs_text(cells["models"])
    assert outputs_text(cells["use"]).strip() == "oui: using model smollm2"
    first = markdown_answer(cells["first-chat"]).strip()
    second = markdown_answer(cells["second-chat"]).strip()
    assert first and second and "▌" not in first + second

    chat = notebook_chat(live_server, "notebooks/01_quickstart.ipynb")
    messages = branch(chat)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "In one sentence: what is a Jupyter notebook?"
    assert messages[2]["content"] == "Name one popular Python library for data analysis, in one sentence."
    assert messages[1]["content"].strip() == first
    assert messages[3]["content"].strip() == second
    assert messages[3]["parentId"] == messages[2]["id"] and messages[2]["parentId"] == messages[1]["id"]
    assert all(m.get("done", True) for m in messages)
    assert chat["id"] in outputs_text(cells["chats"])

    api_lines = outputs_text(cells["api"], "stdout").splitlines()
    assert api_lines[-1] == "2 messages saved"
    assert outputs_text(cells["api-stream"], "stdout").strip()
    scripted = notebook_chat(live_server, "Quickstart from code")
    assert [m["role"] for m in branch(scripted)] == ["user", "assistant"] * 2

    saved = json.dumps(nbformat.writes(nb))
    assert live_server.token not in saved  # the token never reaches the notebook


def test_dataframe_notebook_sends_the_description_and_explains_the_error(live_server: LiveServer) -> None:
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


def write_notebook(live: LiveServer, path: str, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    target = live.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def test_a_chat_continues_across_kernels_and_the_sidebar(live_server: LiveServer) -> None:
    path = "scratch/continue.ipynb"
    write_notebook(live_server, path, ["%load_ext oui_jupyter", "%%chat -m smollm2 --max-tokens 16\nSay one word."])
    live_server.execute(path)
    chat = notebook_chat(live_server, path)
    # the sidebar continues the chat...
    live_server.api("POST", f"v1/chats/{chat['id']}/message",
                    json={"content": "From the sidebar: one more word.", "params": {"max_tokens": 16}})
    # ...and a new kernel on the same notebook finds it by its title and continues it
    live_server.execute(path)
    messages = branch(notebook_chat(live_server, path))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "Say one word.", "From the sidebar: one more word.", "Say one word."]
    for parent, child in pairwise(messages):
        assert child["parentId"] == parent["id"]


def test_bad_input_against_the_real_server_is_one_line(live_server: LiveServer) -> None:
    path = "scratch/bad.ipynb"
    write_notebook(live_server, path, [
        "%load_ext oui_jupyter",
        "%%chat -m no-such-model\nhi",
        "%%chat --chat 00000000-0000-0000-0000-000000000000\nhi",
        "%%chat\n{not_defined}",
        "%%chat --knowledge no-such-collection\nhi",
    ])
    nb = live_server.execute(path)
    expected = [
        "oui: unknown model 'no-such-model' (available: ",
        "oui: chat '00000000-0000-0000-0000-000000000000' not found",
        "oui: {not_defined} is not defined in the notebook",
        "oui: no knowledge collection named 'no-such-collection'",
    ]
    for cell, line in zip(nb.cells[1:], expected):
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
