"""``%%chat --image`` and ``--figure`` in a real kernel, against the scripted server: the turn
carries the image as an ``image_url`` part, and bad input is one clear line."""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import errors_of, run_cells, text_of
from support.png import solid_png


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def sent_images(turn: dict) -> list[bytes]:
    content = turn["content"]
    assert isinstance(content, list) and content[0]["type"] == "text", content
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/png;base64,") for u in urls), urls
    return [base64.b64decode(u.split(",", 1)[1]) for u in urls]


def test_chat_image_from_a_variable_a_file_and_the_last_figure(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    png = solid_png(6, 4)
    (tmp_path / "plot.png").write_bytes(png)
    (tmp_path.parent / "outside.png").write_bytes(png)
    with_matplotlib = importlib.util.find_spec("matplotlib") is not None
    cells = [
        "%load_ext oui_jupyter",
        "png = open('plot.png', 'rb').read()\nnot_an_image = 42",
        "%%chat --image png\nWhat is in this picture?",
        "%%chat --image plot.png\nAnd in this file?",
        "%%chat --figure\nno figure yet",
        "%%chat --image not_an_image\nx",
        "%%chat --image ../outside.png\nx",
        "%%chat --image missing.png\nx",
    ]
    if with_matplotlib:
        cells += [
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])",
            "%%chat --figure\nExplain the trend",
        ]
    env = {"OUI_SERVER_URL": scripted.url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "v.ipynb"}
    ran = run_cells(cells, env, str(tmp_path))
    assert not any(errors_of(c) for c in ran), [c["outputs"] for c in ran]
    (chat,) = scripted.state.chats.values()
    turns = chat["turns"]
    assert sent_images(turns[0]) == [png] and turns[0]["content"][0]["text"] == (
        "What is in this picture?"
    )
    assert sent_images(turns[1]) == [png]
    lines = {i: text_of(ran[i], "stderr").strip() for i in range(4, 8)}
    assert "no matplotlib figure yet" in lines[4]
    assert "int is not an image" in lines[5]
    assert "outside the server's root" in lines[6]
    assert "missing.png" in lines[7]
    assert all(line.count("\n") == 0 for line in lines.values()), lines
    if with_matplotlib:
        assert len(turns) == 3
        (figure,) = sent_images(turns[2])
        assert figure.startswith(b"\x89PNG") and len(figure) > 1000
    else:
        assert len(turns) == 2
