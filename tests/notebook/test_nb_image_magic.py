"""``%%image`` in a real kernel against the scripted server: the request, the image outputs
(image bytes only, never HTML), and one clear line for each failure."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import errors_of, run_cells, text_of


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def env_for(url: str) -> dict[str, str]:
    return {"OUI_SERVER_URL": url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "art.ipynb"}


def test_image_cells_show_image_outputs_and_say_what_failed(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "subject = 'a heron'",
            "%%image -n 2 --size 256x256 -m img-1\nA watercolour of {subject}",
            "%%image\n   ",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    shown = [o for o in cells[2]["outputs"] if o["output_type"] == "display_data"]
    assert len(shown) == 2
    for output in shown:
        assert set(output["data"]) == {"image/png", "text/plain"}
        assert base64.b64decode(output["data"]["image/png"]) == scripted.state.image_bytes
        assert output["metadata"]["oui"]["prompt"] == "A watercolour of a heron"
    posted = [r for r in scripted.state.requests if r[1] == "/oui/api/v1/images/generations"]
    assert [r[2] for r in posted] == [
        {"prompt": "A watercolour of a heron", "n": 2, "model": "img-1", "size": "256x256"}
    ]
    assert "the cell is empty: describe the image" in text_of(cells[3], "stderr")


def test_an_answer_that_is_not_an_image_and_a_server_refusal_are_one_line(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.state.image_bytes = b"<html><script>alert(1)</script></html>"
    cells = run_cells(
        ["%load_ext oui_jupyter", "%%image\na cat"], env_for(scripted.url), str(tmp_path)
    )
    assert not [o for o in cells[1]["outputs"] if o["output_type"] == "display_data"]
    assert "not a PNG, JPEG, GIF or WebP image" in text_of(cells[1], "stderr")
    scripted.state.image_error = (503, "Image generation is off: an admin sets it")
    cells = run_cells(
        ["%load_ext oui_jupyter", "%%image\na cat"], env_for(scripted.url), str(tmp_path)
    )
    assert not errors_of(cells[1])
    assert (
        text_of(cells[1], "stderr").strip()
        == "oui: Image generation is off: an admin sets it (503)"
    )
