"""Units of the tool loop: parsing prompted calls, merging streamed call deltas, replaying
stored calls, the approvals' bookkeeping."""

from __future__ import annotations

import asyncio
import json

import pytest

from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.services.approvals import Approvals
from oui_jupyter.services.tool_loop import (
    may_be_call,
    merge_call_deltas,
    parse_prompted_call,
    replay,
)

NAMES = ["echo", "sql"]


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "echo", "arguments": {"text": "hi"}}',
        '```json\n{"tool": "echo", "arguments": {"text": "hi"}}\n```',
        '<tool_call>[{"name": "echo", "arguments": {"text": "hi"}}]</tool_call>',
        'Sure! {"junk": 1} then {"name": "echo", "parameters": {"text": "hi"}} ok',
        '{"function": {"name": "echo", "arguments": "{\\"text\\": \\"hi\\"}"}}',
    ],
)
def test_prompted_calls_are_found_in_junk(text):
    call = parse_prompted_call(text, NAMES)
    assert call is not None and call["name"] == "echo"
    assert json.loads(call["arguments"]) == {"text": "hi"}


@pytest.mark.parametrize(
    "text", ["The answer is 42.", '{"tool": "rm_rf", "arguments": {}}', "{not json", ""]
)
def test_answers_are_not_calls(text):
    assert parse_prompted_call(text, NAMES) is None


def test_may_be_call():
    assert may_be_call("  ") and may_be_call(" {") and may_be_call("```") and may_be_call("<tool")
    assert not may_be_call("Hello") and not may_be_call("  The")


def test_streamed_call_deltas_merge_by_index():
    calls: dict[int, dict[str, str]] = {}
    merge_call_deltas(
        calls, [{"index": 0, "id": "a", "function": {"name": "echo", "arguments": ""}}]
    )
    merge_call_deltas(calls, [{"index": 1, "id": "b", "function": {"name": "sql"}}])
    merge_call_deltas(calls, [{"index": 0, "function": {"arguments": '{"te'}}])
    merge_call_deltas(calls, [{"index": 0, "function": {"arguments": 'xt": 1}'}}, "junk"])
    merge_call_deltas(calls, "not a list")
    assert calls == {
        0: {"id": "a", "name": "echo", "arguments": '{"text": 1}'},
        1: {"id": "b", "name": "sql", "arguments": ""},
    }


ROWS = [
    {"role": "user", "content": "q"},
    {
        "role": "assistant",
        "content": "Let me see. Found it. Done.",
        "extra": {
            "tool_calls": [
                {
                    "id": "c1",
                    "name": "echo",
                    "arguments": "{}",
                    "round": 0,
                    "offset": 12,
                    "result": "r1",
                },
                {
                    "id": "c2",
                    "name": "sql",
                    "arguments": "{}",
                    "round": 0,
                    "offset": 12,
                    "result": "r2",
                },
                {
                    "id": "c3",
                    "name": "echo",
                    "arguments": "{}",
                    "round": 1,
                    "offset": 22,
                    "result": "r3",
                },
            ]
        },
    },
]


def test_replay_native_rebuilds_each_round():
    messages = list(replay(ROWS, True, lambda r: r["content"]))
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert messages[1]["content"] == "Let me see. " and len(messages[1]["tool_calls"]) == 2
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "r1"}
    assert messages[4]["content"] == "Found it. " and messages[4]["tool_calls"][0]["id"] == "c3"
    assert messages[6] == {"role": "assistant", "content": "Done."}
    assert "".join(m["content"] for m in messages if m["role"] == "assistant") == ROWS[1]["content"]


def test_replay_without_native_calling_tells_the_calls_in_text():
    messages = list(replay(ROWS, False, lambda r: r["content"]))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    text = messages[1]["content"]
    assert text.startswith("Let me see. \n[tool echo({}) answered: r1]") and text.endswith("Done.")
    assert "tool_calls" not in messages[1]


async def test_approvals_decide_once_and_only_for_the_owner():
    approvals = Approvals(timeout=5)
    waiting = asyncio.ensure_future(approvals.wait("alice", "c", "m", "k", "echo"))
    await asyncio.sleep(0)
    with pytest.raises(NotFound):
        approvals.decide("bob", "c", "m", "k", "approve")
    with pytest.raises(InvalidInput):
        approvals.decide("alice", "c", "m", "k", "yes")
    assert approvals.decide("alice", "c", "m", "k", "approve_chat") == "approved_chat"
    assert await waiting == "approved_chat"
    with pytest.raises(Conflict):
        approvals.decide("alice", "c", "m", "k", "deny")
    assert approvals.approved_for_chat("alice", "c", "echo")
    assert not approvals.approved_for_chat("alice", "other", "echo")
    assert not approvals.approved_for_chat("bob", "c", "echo")


async def test_an_undecided_call_times_out_as_denied():
    approvals = Approvals(timeout=0.05)
    assert await approvals.wait("alice", None, "m", "k", "echo") is None
    assert approvals.waiting("alice") == []
    with pytest.raises(Conflict):
        approvals.decide("alice", None, "m", "k", "approve")
