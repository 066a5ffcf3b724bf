"""The magics in a real kernel, against the scripted server: streaming, chat continuity,
formats, context helpers, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import errors_of, free_port, run_cells, text_of


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def env_for(url: str, session: str = "work/analysis.ipynb") -> dict[str, str]:
    return {"OUI_SERVER_URL": url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": session}


def test_chat_cells_stream_continue_one_chat_and_show_sources(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "topic = 'sales'\n",
            "%%chat --workspace\nTell me about {topic} in {{braces}} and {'a': 1}",
            "%%chat -m other\nAnd more?",
            "%%chat -f text\nplain please",
            "%%chat --new\nfresh start",
            "%%chat\ncontinues the fresh one",
            "import sys; print('httpx' in sys.modules)",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    first = cells[2]
    markdown = [o for o in first["outputs"] if "text/html" in o.get("data", {})]
    assert markdown, first["outputs"]
    shown = markdown[-1]["data"]["text/plain"]
    assert "Hello, world." in shown and "**Sources**" in shown
    assert "[src/data.py (lines 3-9)](/lab/tree/src/data.py)" in shown
    assert "▌" not in shown  # the final update replaced the streaming cursor
    assert len(markdown) == 1  # one display, updated in place while streaming
    assert text_of(cells[4], "stdout").startswith("Hello, world.")
    chats = scripted.state.chats
    titles = sorted(c["title"] for c in chats.values())
    assert titles == ["work/analysis.ipynb", "work/analysis.ipynb"]
    by_turns = sorted(chats.values(), key=lambda c: len(c["turns"]))
    fresh, notebook = by_turns
    assert [t["content"] for t in notebook["turns"]] == [
        "Tell me about sales in {braces} and {'a': 1}",
        "And more?",
        "plain please",
    ]
    assert notebook["turns"][0]["features"] == {"workspace": True}
    assert notebook["turns"][1]["model"] == "other"
    assert [t["content"] for t in fresh["turns"]] == ["fresh start", "continues the fresh one"]
    # no token in the notebook
    assert TOKEN not in json.dumps(cells)


def test_code_and_json_formats_and_context_helpers(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.state.answer_chunks = ["Here:\n```python\n", "df.describe()\n", "```\n"]
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            (
                "import pandas as pd, numpy as np\n"
                "df = pd.DataFrame({'city': ['Oslo', 'Rome', None], 'sales': [3, 4, 5]})\n"
                "arr = np.zeros((4, 2), dtype='float32')\n"
                "numbers = [1, 2, 3]"
            ),
            "%%chat -f code --with df,numbers --with arr\nsummarise df",
            "1 / 0",
            "%oui explain",
            (
                "ip = get_ipython(); calls = []; original = ip.set_next_input\n"
                "ip.set_next_input = lambda text, replace=False: (calls.append((text, replace)), original(text, replace))"
            ),
            "%%chat -f code\nagain",
            "print(calls)",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert len(errors_of(cells[3])) == 1  # the deliberate ZeroDivisionError
    assert not errors_of(cells[2]) and not errors_of(cells[4])
    chat = next(iter(scripted.state.chats.values()))
    prompt = chat["turns"][0]["content"]
    assert "`df` is a DataFrame with 3 rows and 2 columns." in prompt
    assert "- city: " in prompt and "2 non-null" in prompt
    assert "- sales: int64, 3 non-null" in prompt
    assert "Oslo" in prompt  # the head
    assert "`arr` is a ndarray with shape (4, 2) and dtype float32." in prompt
    assert "`numbers` is a list of length 3: `[1, 2, 3]`" in prompt
    assert prompt.endswith("Answer with one Python code block.")
    explain = chat["turns"][1]["content"]
    assert "ZeroDivisionError" in explain and "1 / 0" in explain
    assert text_of(cells[7], "stdout") == "[('df.describe()', False)]\n"


def test_json_format_returns_the_value(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.state.answer_chunks = ['```json\n{"rows": 3, ', '"cols": ["a", "b"]}\n```']
    cells = run_cells(
        ["%load_ext oui_jupyter", "%%chat -f json\nshape?", "print(_['cols'])"],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    datas = [o["data"] for o in cells[1]["outputs"] if "data" in o]
    assert any(d.get("application/json") == {"rows": 3, "cols": ["a", "b"]} for d in datas)
    assert text_of(cells[2], "stdout") == "['a', 'b']\n"


def test_bad_input_prints_one_clear_line_never_a_traceback(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "%%chat -m no-such-model\nhi",
            "%%chat --chat no-such-chat\nhi",
            "%%chat\nvalue of {undefined_thing}",
            "%%chat --with missing_var\nhi",
            "%oui use ghost",
            "%oui explain",
            "%%chat --knowledge nope\nhi",
            "%oui frobnicate",
            "from oui_jupyter.notebook import OuiClient\nOuiClient().get_chat('nope')",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    expected = [
        "oui: unknown model 'no-such-model' (available: smollm2, other)",
        "oui: chat 'no-such-chat' not found (list yours with %oui chats)",
        "oui: {undefined_thing} is not defined in the notebook",
        "oui: --with missing_var: missing_var is not defined in the notebook",
        "oui: unknown model 'ghost'",
        "oui: no exception to explain yet",
        "oui: no knowledge collection named 'nope' (have: papers)",
        "oui: unknown command 'frobnicate'",
        "oui: Chat nope not found",
    ]
    assert len(cells) == len(expected) + 1
    for cell, line in zip(cells[1:], expected, strict=False):
        assert not errors_of(cell) or cell is cells[-1], cell["outputs"]
        text = text_of(cell, "stderr")
        assert text.startswith(line), (line, text)
        assert text.count("\n") == 1, text
    assert not scripted.state.chats or all(not c["turns"] for c in scripted.state.chats.values())


def test_server_down_and_no_server_say_what_to_set(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/"
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    cells = run_cells(
        ["%load_ext oui_jupyter", "%%chat\nhi", "%oui models"],
        {"OUI_SERVER_URL": down, "OUI_TOKEN": "x"},
        str(tmp_path),
    )
    for cell in cells[1:]:
        assert not errors_of(cell)
        text = text_of(cell, "stderr")
        assert (
            text.startswith(f"oui: cannot reach the Jupyter server at {down}")
            and text.count("\n") == 1
        )
    lonely = run_cells(
        ["%load_ext oui_jupyter", "%%chat\nhi"],
        {"JUPYTER_RUNTIME_DIR": str(runtime)},
        str(tmp_path),
    )
    for cell in lonely:
        text = text_of(cell, "stderr")
        assert text.startswith("oui: no running Jupyter server found: set OUI_SERVER_URL"), text
        assert text.count("\n") == 1 and not errors_of(cell)


def test_oui_line_commands(scripted: ScriptedServer, tmp_path: Path) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "%oui models",
            "%oui use SmolLM2",
            "%oui new My analysis",
            "%oui chats",
            "%oui search what's the loading code -k 2",
            "%oui status",
            "%oui",
            (
                "%unload_ext oui_jupyter\nip = get_ipython()\n"
                "print('oui' in ip.magics_manager.magics['line'], 'chat' in ip.magics_manager.magics['cell'], "
                "ip.custom_exceptions)"
            ),
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    assert "<tr><td>✓</td><td>smollm2</td><td>SmolLM2</td><td>llama.cpp</td></tr>" in text_of(
        cells[1]
    )
    assert text_of(cells[2]) == "oui: using model smollm2\n"
    assert "the next %%chat cells continue it" in text_of(cells[3])
    assert "<tr><td>✓</td><td>My analysis</td>" in text_of(cells[4])
    search = text_of(cells[5])
    assert search.count('<li class="oui-hit">') == 2
    assert 'href="/lab/tree/nb/analysis%200.ipynb"' in search and "cell 1" in search
    assert "snippet 0 about what&#x27;s the loading code" in search
    assert text_of(cells[6]).startswith(
        "Workspace index: indexing, 3/4 files, 12 chunks, 10 embedded, 2 pending, model all-MiniLM-L6-v2"
    )
    assert "Commands: models, use MODEL" in text_of(cells[7])
    assert text_of(cells[8]) == "False False ()\n"


def test_interrupting_a_chat_cell_stops_the_generation(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.state.answer_chunks = [f"word{i} " for i in range(400)]
    scripted.state.chunk_delay = 0.02
    cells = run_cells(
        ["%load_ext oui_jupyter", "%%chat\nwrite a lot", "print('still alive')"],
        env_for(scripted.url),
        str(tmp_path),
        timeout=4,
        interrupt_on_timeout=True,
    )
    assert text_of(cells[1], "stderr") == "oui: stopped\n"
    assert not errors_of(cells[1])
    shown = [
        o["data"]["text/plain"] for o in cells[1]["outputs"] if "text/html" in o.get("data", {})
    ]
    assert shown and "word0" in shown[-1] and "word399" not in shown[-1] and "▌" not in shown[-1]
    chat_id = next(iter(scripted.state.chats))
    assert ("POST", f"/oui/api/tasks/chat/{chat_id}/stop") in [
        (m, p) for m, p, _b, _h in scripted.state.requests
    ]
    assert text_of(cells[2], "stdout") == "still alive\n"
