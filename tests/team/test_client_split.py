"""Which parts of a turn a team client searches itself (``team/client/workspace.py``)."""

from __future__ import annotations

from oui_jupyter.team.client.workspace import split_turn, turn_query


def test_workspace_items_are_taken_out_and_the_rest_kept() -> None:
    upload = {"type": "file", "id": "f1"}
    team_kb = {"type": "collection", "id": "kb1"}
    path = {"type": "path", "path": "lab/notes.md"}
    folder = {"type": "directory", "path": "lab/"}
    body = {
        "model": "m",
        "files": [upload, path, team_kb, folder],
        "features": {"web_search": False},
    }
    items, whole, rest = split_turn(body)
    assert items == [path, folder] and whole is False
    assert rest["files"] == [upload, team_kb] and rest["features"] == {"web_search": False}
    assert body["files"] == [upload, path, team_kb, folder]  # the caller's body is untouched


def test_the_whole_workspace_by_feature_or_collection() -> None:
    _, whole, rest = split_turn({"features": {"workspace": True, "x": 1}})
    assert whole and rest["features"] == {"x": 1}
    _, whole, rest = split_turn({"files": [{"type": "collection", "id": "workspace"}]})
    assert whole and rest["files"] == []


def test_a_turn_without_workspace_parts_is_the_same_body() -> None:
    body = {"files": [{"type": "file", "id": "f1"}], "features": {"workspace": False}}
    assert split_turn(body) == ([], False, body)
    assert split_turn(body)[2] is body


def test_the_query_is_the_last_user_text() -> None:
    assert turn_query({"content": "hi"}, message_route=True) == "hi"
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "a"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "se"}, {"type": "text", "text": "cond"}],
        },
    ]
    assert turn_query({"messages": messages}, message_route=False) == "second"
    assert turn_query({"user_message": {"content": "new"}}, message_route=False) == "new"
    assert turn_query({"messages": []}, message_route=False) == ""
