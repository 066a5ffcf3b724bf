"""The widgets in a real kernel against the scripted server: same chat as %%chat cells."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import errors_of, free_port, run_cells, text_of

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def test_chat_widget_continues_the_notebook_chat_and_search_widget_links(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    env = {"OUI_SERVER_URL": scripted.url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "w.ipynb"}
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "%%chat\nfirst from a cell",
            "from oui_jupyter.notebook import ChatWidget, SearchWidget\nchat = ChatWidget(model='other')\nchat",
            (
                "answer = chat.ask('second from the widget')\n"
                "print(answer['content']); print(len(chat.history.outputs)); print(chat.model_picker.options)\n"
                "print(chat.history.outputs[0]['data']['text/plain'])\n"
                "print(chat.send_button.disabled, chat.stop_button.disabled, chat.status.value)"
            ),
            "search = SearchWidget('loading data', k=2)\nsearch",
            "print(len(search.hits)); print(search.results.value.count('<li class=\"oui-hit\">')); search.search('other words'); print(search.hits[0].snippet)",
        ],
        env,
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells), [c["outputs"] for c in cells]
    for index in (2, 4):
        views = [o for o in cells[index]["outputs"] if WIDGET_VIEW in o.get("data", {})]
        assert len(views) == 1 and views[0]["data"][WIDGET_VIEW]["model_id"]
    lines = text_of(cells[3], "stdout").splitlines()
    assert lines[0] == "Hello, world."
    assert lines[1] == "4"  # 2 messages from the cell turn + the widget's question and answer
    assert lines[2] == "(('SmolLM2', 'smollm2'), ('Other', 'other'))"
    assert lines[3].startswith("**You**: first from a cell")
    assert "Done" in lines[4] and lines[4].startswith("False True")
    assert len(scripted.state.chats) == 1
    chat = next(iter(scripted.state.chats.values()))
    assert [t["content"] for t in chat["turns"]] == ["first from a cell", "second from the widget"]
    assert chat["turns"][1]["model"] == "other"
    search_lines = text_of(cells[5], "stdout").splitlines()
    assert search_lines[:2] == ["2", "2"]
    assert search_lines[2] == "snippet 0 about other words"


def test_widgets_show_one_line_when_the_server_is_down(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/"
    cells = run_cells(
        [
            "from oui_jupyter.notebook import ChatWidget, SearchWidget\nw = ChatWidget()\nprint(w.status.value)",
            "s = SearchWidget('x')\nprint(s.results.value)",
        ],
        {"OUI_SERVER_URL": down, "OUI_TOKEN": "t"},
        str(tmp_path),
    )
    for cell in cells:
        assert not errors_of(cell)
        assert "oui: cannot reach the Jupyter server" in text_of(cell, "stdout")


def test_stop_button_stops_the_answer_and_tells_the_server(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.state.answer_chunks = [f"word{i} " for i in range(200)]
    scripted.state.chunk_delay = 0.02
    env = {"OUI_SERVER_URL": scripted.url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "stop.ipynb"}
    cells = run_cells(
        [
            (
                "import time\nfrom oui_jupyter.notebook import ChatWidget\nw = ChatWidget()\n"
                "w.send('write a lot')\ntime.sleep(0.5)\nprint(w.busy, w.stop_button.disabled)\n"
                "w.stop_button.click()\nw._worker.join(5)\n"
                "print(w.busy, w.status.value)\nprint(len(w.messages[-1]['content'].split()))"
            ),
        ],
        env,
        str(tmp_path),
    )
    assert not errors_of(cells[0])
    lines = text_of(cells[0], "stdout").splitlines()
    assert lines[0] == "True False"
    assert lines[1].startswith("False") and "Stopped" in lines[1]
    assert 0 < int(lines[2]) < 200
    chat_id = next(iter(scripted.state.chats))
    assert ("POST", f"/oui/api/tasks/chat/{chat_id}/stop") in [
        (m, p) for m, p, _b, _h in scripted.state.requests
    ]


def test_chat_widget_shows_sources_and_reloads_them(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    env = {"OUI_SERVER_URL": scripted.url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "src.ipynb"}
    cells = run_cells(
        [
            (
                "from oui_jupyter.notebook import ChatWidget\nw = ChatWidget(workspace=True)\nw.ask('cite')\n"
                "print(w.history.outputs[-1]['data']['text/plain'])"
            ),
            "again = ChatWidget()\nprint(len(again.messages), again.history.outputs[-1]['data']['text/plain'])",
        ],
        env,
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    first = text_of(cells[0], "stdout")
    assert first.startswith("**smollm2**: Hello, world.")
    assert "**Sources**" in first and "[src/data.py (lines 3-9)](/lab/tree/src/data.py)" in first
    reloaded = text_of(cells[1], "stdout")
    assert (
        reloaded.startswith("2 **smollm2**: Hello, world.")
        and "(/lab/tree/src/data.py)" in reloaded
    )
    assert scripted.state.chats[next(iter(scripted.state.chats))]["turns"][0]["features"] == {
        "workspace": True
    }
