"""``%%chat /command`` in a real kernel against the scripted server: the library prompt's
content is sent with its ``{{variables}}`` filled from ``--var``, the built-ins and the
notebook's variables; a missing variable or prompt is one clear line and sends nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import errors_of, run_cells, text_of

PROMPT = {
    "command": "/review",
    "user_id": "alice",
    "title": "Review",
    "content": "Review {{topic}} for {{ audience | select:options=['me','team'] }} on "
    "{{CURRENT_DATE}}. Keep {literal} braces.",
    "timestamp": 0,
    "access_control": {},
}


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        server.state.prompts["/review"] = PROMPT
        yield server


def env_for(url: str) -> dict[str, str]:
    return {"OUI_SERVER_URL": url, "OUI_TOKEN": TOKEN, "JPY_SESSION_NAME": "work/a.ipynb"}


def sent(scripted: ScriptedServer) -> list[str]:
    return [t["content"] for c in scripted.state.chats.values() for t in c["turns"]]


def test_chat_command_fills_variables_from_var_builtins_and_the_notebook(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "topic = 'the sales notebook'\naudience = 'the team'",
            "%chat /review --var 'audience=my manager'",
            "%%chat /review\nAlso check {topic}.",
            "%oui prompts",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells), [errors_of(c) for c in cells]
    today = time.strftime("%Y-%m-%d")
    assert sent(scripted) == [
        f"Review the sales notebook for my manager on {today}. Keep {{literal}} braces.",
        f"Review the sales notebook for the team on {today}. Keep {{literal}} braces."
        "\n\nAlso check the sales notebook.",
    ]
    assert "Hello, world." in text_of(cells[2])
    assert "/review  Review" in text_of(cells[4], "stdout")


def test_missing_variables_and_prompts_say_one_line_and_send_nothing(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cells = run_cells(
        [
            "%load_ext oui_jupyter",
            "%chat /review",
            "%%chat /nothing\nhi",
            "%chat /review --var 'bad name=1'",
            "%%chat --var topic=x\nhi",
        ],
        env_for(scripted.url),
        str(tmp_path),
    )
    assert not any(errors_of(c) for c in cells)
    assert text_of(cells[1], "stderr").strip() == (
        "oui: /review needs {{topic}}, {{audience}}: give --var NAME=VALUE or define NAME in "
        "the notebook"
    )
    assert "no prompt /nothing (list them with %oui prompts)" in text_of(cells[2], "stderr")
    assert "write --var name=value" in text_of(cells[3], "stderr")
    assert "--var fills a library prompt" in text_of(cells[4], "stderr")
    assert sent(scripted) == []
