"""Tool calls that wait for approval: approve, deny, approve for the chat, timeouts and who
may decide (``POST v1/tools/approve``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support.polling import eventually

from chat.helpers import frames_until, is_done, scripted_settings, sse_events, sse_text
from chat.tool_support import install_tools

pytestmark = pytest.mark.storage


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(
        scripted_openai.base_url,
        completion_timeout=5.0,
        tool_policy={"echo": "ask"},
        tool_approval_timeout=5.0,
    )


def turn(chat_id: str, tool: str = "guarded", **extra: Any) -> dict[str, Any]:
    return {
        "model": "toolcall",
        "chat_id": chat_id,
        "stream": True,
        "session_id": "s1",
        "messages": [{"role": "user", "content": "write it"}],
        "tool_ids": [tool],
        **extra,
    }


async def waiting_call(ws: Any) -> dict[str, Any]:
    """The approval status the socket gets for a waiting call."""
    frames = await frames_until(
        ws, lambda f: f["type"] == "status" and f["data"].get("action") == "approval"
    )
    calls = [f for f in frames if f["type"] == "tool:call"]
    assert calls and calls[-1]["data"]["status"] == "awaiting_approval"
    return frames[-1]["data"]


def decision(status: dict[str, Any], value: str) -> dict[str, Any]:
    return {k: status[k] for k in ("chat_id", "message_id", "call_id")} | {"decision": value}


async def test_approve_runs_the_call(api, jp_serverapp, new_chat, ws_connect, scripted_openai):
    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    ws = await ws_connect()
    chat_id = await new_chat(model="toolcall")
    r = await api("POST", "chat/completions", turn(chat_id))
    message_id = r.json()["message_id"]
    status = await waiting_call(ws)
    assert status["description"] == "Waiting for approval of guarded" and status["done"] is False
    assert status["chat_id"] == chat_id and status["message_id"] == message_id
    assert guarded.calls == []
    # only the chat's owner may decide; bad decisions are 422
    assert (
        await api("POST", "v1/tools/approve", decision(status, "approve"), user="bob")
    ).code == 404
    assert (await api("POST", "v1/tools/approve", decision(status, "maybe"))).code == 422
    r = await api("POST", "v1/tools/approve", decision(status, "approve"))
    assert r.code == 200 and r.json() == {"call_id": status["call_id"], "decision": "approve"}
    assert (await api("POST", "v1/tools/approve", decision(status, "deny"))).code == 409
    frames = await frames_until(ws, is_done(message_id))
    assert frames[-1]["data"]["content"] == "Checking. Tool said: wrote: hi"
    record = frames[-1]["data"]["tool_calls"][0]
    assert record["status"] == "done" and record["approval"] == "approved"
    assert len(guarded.calls) == 1


async def test_deny_tells_the_model(api, jp_serverapp, new_chat, ws_connect, scripted_openai):
    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    ws = await ws_connect()
    chat_id = await new_chat(model="toolcall")
    message_id = (await api("POST", "chat/completions", turn(chat_id))).json()["message_id"]
    status = await waiting_call(ws)
    assert (await api("POST", "v1/tools/approve", decision(status, "deny"))).code == 200
    frames = await frames_until(ws, is_done(message_id))
    assert guarded.calls == []
    assert frames[-1]["data"]["content"] == "Checking. Tool said: The user denied this call."
    tool_message = scripted_openai.requests[-1]["messages"][-1]
    assert (
        tool_message["role"] == "tool" and tool_message["content"] == "The user denied this call."
    )
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    record = chat["history"]["messages"][message_id]["tool_calls"][0]
    assert record["status"] == "denied" and record["approval"] == "denied"


async def test_approve_for_the_chat(api, jp_serverapp, new_chat, ws_connect, scripted_openai):
    """The policy's "ask" for echo; approve_chat lets its next calls in the chat run."""
    assert (await api("GET", "v1/tools/")).code == 200
    echo, _ = await install_tools(jp_serverapp)
    ws = await ws_connect()
    chat_id = await new_chat(model="toolcall")
    message_id = (await api("POST", "chat/completions", turn(chat_id, "echo"))).json()["message_id"]
    status = await waiting_call(ws)
    assert (await api("POST", "v1/tools/approve", decision(status, "approve_chat"))).code == 200
    await frames_until(ws, is_done(message_id))
    # the next turn of the chat (streamed over SSE this time) runs echo without asking
    r = await api("POST", "chat/completions", turn(chat_id, "echo", session_id=None))
    assert r.code == 200 and sse_text(r.body) == "Checking. Tool said: echo: hi"
    statuses = [d["status"] for _, d in sse_events(r.body) if isinstance(d, dict) and "status" in d]
    assert not any(s.get("action") == "approval" for s in statuses)
    assert len(echo.calls) == 2
    # another chat asks again
    other = await new_chat(model="toolcall")
    await api("POST", "chat/completions", turn(other, "echo"))
    assert (await waiting_call(ws))["chat_id"] == other


async def test_sse_client_sees_the_waiting_call(api, jp_serverapp, scripted_openai):
    """A turn outside a chat (the notebook client's): the status chunk names the call and
    the decision comes through v1/tools/approve with chat_id null."""
    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    body = turn("x") | {"chat_id": None, "session_id": None}
    task = asyncio.ensure_future(api("POST", "chat/completions", body))
    approvals = jp_serverapp.web_app.settings["oui_runtime"].services.completions.tools.approvals
    (key,) = await eventually(lambda: approvals.waiting("alice"))
    _, chat, message_id, call_id = key
    assert chat == ""
    form = {"chat_id": None, "message_id": message_id, "call_id": call_id, "decision": "approve"}
    assert (await api("POST", "v1/tools/approve", form)).code == 200
    r = await task
    assert sse_text(r.body) == "Checking. Tool said: wrote: hi"
    statuses = [d["status"] for _, d in sse_events(r.body) if isinstance(d, dict) and "status" in d]
    waiting = [s for s in statuses if s.get("action") == "approval"]
    assert waiting[0]["call_id"] == call_id and waiting[0]["message_id"] == message_id
    assert len(guarded.calls) == 1
    assert [t["function"]["name"] for t in scripted_openai.requests[0]["tools"]] == ["guarded"]


async def test_no_waiting_call_is_404(api):
    form = {"chat_id": "c", "message_id": "m", "call_id": "x", "decision": "approve"}
    r = await api("POST", "v1/tools/approve", form)
    assert r.code == 404 and "x" in r.json()["message"]


async def test_kernel_client_sees_and_answers_the_waiting_call(
    api, jp_serverapp, new_chat, jp_http_port, jp_base_url, scripted_openai
):
    """What ``%%chat --tools`` does: the sync client streams the turn, its ``on_approval``
    posts the decision (the magic asks on the kernel's stdin), the turn goes on."""
    from oui_jupyter.notebook.client import OuiClient
    from oui_jupyter.notebook.discovery import ServerInfo

    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    chat_id = await new_chat(model="toolcall")
    info = ServerInfo(
        url=f"http://localhost:{jp_http_port}{jp_base_url}", token="alice-token", source="test"
    )
    seen: list[dict[str, Any]] = []

    def run_cell() -> str:
        with OuiClient(info) as client:
            turn = client.stream_message(
                chat_id,
                "write it",
                model="toolcall",
                tool_ids=["guarded"],
                notebook_path="work/a.ipynb",
            )

            def decide(status: dict[str, Any]) -> None:
                seen.append(status)
                client.approve_tool(
                    status["chat_id"], status["message_id"], status["call_id"], "approve"
                )

            turn.on_approval = decide
            return "".join(turn)

    text = await asyncio.to_thread(run_cell)
    assert text == "Checking. Tool said: wrote: hi"
    assert seen[0]["chat_id"] == chat_id and len(guarded.calls) == 1
    assert guarded.calls[0][1].notebook_path == "work/a.ipynb"  # the tools' notebook
    assert scripted_openai.requests[0]["tools"][0]["function"]["name"] == "guarded"


async def test_chat_widget_shows_the_approval_buttons(
    api, jp_serverapp, new_chat, jp_http_port, jp_base_url, scripted_openai
):
    """``ChatWidget(tools=[...])``: a waiting call shows Approve / Deny / Approve for this
    chat; a click posts the decision and the answer comes."""
    from oui_jupyter.notebook.discovery import ServerInfo
    from oui_jupyter.notebook.session import Session
    from oui_jupyter.notebook.widgets import ChatWidget

    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    chat_id = await new_chat(model="toolcall")
    info = ServerInfo(
        url=f"http://localhost:{jp_http_port}{jp_base_url}", token="alice-token", source="test"
    )

    def run() -> Any:
        widget = ChatWidget(
            chat_id=chat_id,
            model="toolcall",
            session=Session(info, env={"JPY_SESSION_NAME": "work/b.ipynb"}),
            tools=["guarded"],
        )
        widget.send("write it")
        deadline = time.monotonic() + 20
        while not widget.approval.children and time.monotonic() < deadline:
            time.sleep(0.05)
        label, approve, deny, _always = widget.approval.children
        assert "guarded" in label.value and deny.description == "Deny"
        approve.click()
        widget._worker.join(20)
        return widget

    widget = await asyncio.to_thread(run)
    assert widget.last_message["content"] == "Checking. Tool said: wrote: hi"
    assert widget.last_message["tool_calls"][0]["approval"] == "approved"
    assert widget.approval.children == () and len(guarded.calls) == 1
    assert guarded.calls[0][1].notebook_path == "work/b.ipynb"


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_chat_magic_asks_on_stdin(
    api, jp_serverapp, new_chat, jp_http_port, jp_base_url, scripted_openai, monkeypatch, answer
):
    """``%%chat --tools guarded``: the waiting call is asked about with ``input()`` and the
    answer posted (y: it runs; n: denied, it does not)."""
    from oui_jupyter.notebook.discovery import ServerInfo
    from oui_jupyter.notebook.magics import OuiMagics
    from oui_jupyter.notebook.session import Session

    assert (await api("GET", "v1/tools/")).code == 200
    _, guarded = await install_tools(jp_serverapp)
    chat_id = await new_chat(model="toolcall")
    info = ServerInfo(
        url=f"http://localhost:{jp_http_port}{jp_base_url}", token="alice-token", source="test"
    )
    asked: list[str] = []

    def fake_input(question: str) -> str:
        asked.append(question)
        return answer

    monkeypatch.setattr("builtins.input", fake_input)
    magics = OuiMagics(None, session=Session(info, env={"JPY_SESSION_NAME": "n.ipynb"}))
    await asyncio.to_thread(
        magics.ask, "write it", model="toolcall", chat_id=chat_id, tool_ids=["guarded"]
    )
    assert asked and "Waiting for approval of guarded" in asked[0]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer_message = chat["history"]["messages"][chat["history"]["currentId"]]
    record = answer_message["tool_calls"][0]
    if answer == "y":
        assert record["status"] == "done" and len(guarded.calls) == 1
        assert guarded.calls[0][1].notebook_path == "n.ipynb"
    else:
        assert record["status"] == "denied" and guarded.calls == []
        assert answer_message["content"].endswith("The user denied this call.")
