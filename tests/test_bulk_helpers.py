"""JSON in pieces (``json_pieces``) and the collector helpers (``heap``) give what one plain
call gives, and leave the collector as they found it."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import msgspec
import pytest

from oui_jupyter import heap, json_pieces
from oui_jupyter.schemas.chats import ChatForm, ChatResponse


def big_value() -> dict[str, Any]:
    messages = {
        f"m{i}": {
            "id": f"m{i}",
            "content": f'ü {i} "q" \\ ✓',
            "n": i,
            "f": i / 3,
            "x": None,
            "tags": ["a", {"b": [1, 2]}],
        }
        for i in range(6000)
    }
    return {
        "chat": {
            "title": "t",
            "history": {"messages": messages, "currentId": "m5"},
            "messages": list(messages.values()),
            "empty": {},
            "none": [],
        },
        "folder_id": None,
    }


def test_a_large_body_decodes_to_what_one_call_gives() -> None:
    value = big_value()
    for body in (
        json.dumps(value).encode(),
        json.dumps(value, indent=2).encode(),
        msgspec.json.encode([value, value, 1, "s"]),
    ):
        assert len(body) > json_pieces.PIECE_BYTES
        assert json_pieces.decode(body, Any) == msgspec.json.decode(body)  # type: ignore[arg-type]
    body = json.dumps(value).encode()
    assert json_pieces.decode(body, ChatForm) == msgspec.json.decode(body, type=ChatForm)


def test_a_large_body_of_few_values_decodes_in_one_call(monkeypatch: Any) -> None:
    """An image as a data: URL: one long string, decoded in one call (splitting it level by
    level would scan it again at each level)."""
    body = msgspec.json.encode({"messages": [{"content": [{"url": "A" * 2_000_000}]}]})

    def no_pieces(*_args: Any) -> Any:
        raise AssertionError("split into pieces")

    monkeypatch.setattr(json_pieces, "_in_pieces", no_pieces)
    assert json_pieces.decode(body, Any) == msgspec.json.decode(body)  # type: ignore[arg-type]


def test_a_large_bad_body_raises_what_one_call_raises() -> None:
    body = json.dumps(big_value()).encode()
    with pytest.raises(msgspec.DecodeError):
        json_pieces.decode(body[:-1], Any)  # type: ignore[arg-type]
    with pytest.raises(msgspec.DecodeError):
        json_pieces.decode(body.replace(b'"m5"}', b'"m5",}'), Any)  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError, match=r"\$\.chat"):
        json_pieces.decode(b'{"chat": [' + b"1," * 200_000 + b"1]}", ChatForm)


def test_a_large_answer_encodes_to_the_same_bytes() -> None:
    value = big_value()
    response = ChatResponse(
        id="c",
        user_id="u",
        title="t",
        chat=value["chat"],
        created_at=1,
        updated_at=2,
        share_id=None,
        archived=False,
        pinned=True,
        meta={"tags": ["x"]},
        folder_id=None,
    )
    for answer in (value, response, [response] * 3, [{"k": i} for i in range(5000)], [], {}, "s"):
        assert json_pieces.encode(answer) == msgspec.json.encode(answer)


def test_release_empties_only_large_containers() -> None:
    small = {"kept": [1, 2, 3]}
    large = list(range(1000))
    value = {"a": {"b": large, "small": small}, "n": 1}
    heap.release(value)
    assert large == [] and small == {"kept": [1, 2, 3]}
    heap.release(None)
    heap.release(
        ChatResponse(
            id="c",
            user_id="u",
            title="t",
            chat={"h": dict.fromkeys(range(999))},
            created_at=1,
            updated_at=2,
            share_id=None,
            archived=False,
            pinned=False,
            meta={},
            folder_id=None,
        )
    )


def test_collections_pause_while_any_holder_runs() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with heap.collections_paused():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(10)
    with heap.collections_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the worker still holds the pause
    leave.set()
    worker.join(10)
    assert gc.isenabled()


def test_a_pause_never_enables_a_collector_someone_else_disabled() -> None:
    gc.disable()
    try:
        with heap.collections_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_pause_that_lasts_too_long_lets_collections_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "MAX_PAUSE_SECONDS", 0.0)
    with heap.collections_paused():
        with heap.collections_paused():
            assert gc.isenabled()
    assert gc.isenabled()
