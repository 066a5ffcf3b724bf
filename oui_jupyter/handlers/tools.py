"""Tool routes (``oui/api/v1/tools/...``)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import InvalidInput, NotFound, PayloadTooLarge
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.tools import (
    ToolApprovalForm,
    ToolApprovalResponse,
    ToolChannelPoll,
    ToolChannelQuery,
    ToolChannelResultForm,
    ToolChannelResultResponse,
    ToolResponse,
    UndoForm,
    UndoResponse,
)

#: the largest result a client may post (it crosses the replicas' bus)
MAX_RESULT_BYTES = 1024 * 1024


class ToolsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Every tool you may use: built-ins, installed packages' and MCP servers'",
            response=list[ToolResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.tools.ready()  # entry points loaded, MCP servers heard (bounded)
        self.write_json(await asyncio.to_thread(self.tools.list, self.user))


class ToolChannelRequestsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Long-poll of a team client server: the calls of its turn's tool channel that it "
            "is to run (at once when some wait, else within `wait` seconds), and whether the "
            "turn still runs; another user's channel is 404",
            query=ToolChannelQuery,
            response=ToolChannelPoll,
            statuses=(404,),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, channel: str) -> None:
        query = self.parse_query(ToolChannelQuery)
        answer = await self.services.tool_channels.poll(self.user, channel, query.after, query.wait)
        self.write_json(answer)


class ToolChannelResultsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "A team client server's result of one call of its tool channel; 404 when no "
            "such call waits on your channel, 409 when it has its result already",
            body=ToolChannelResultForm,
            response=ToolChannelResultResponse,
            statuses=(404, 409, 413),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, channel: str) -> None:
        if len(self.request.body or b"") > MAX_RESULT_BYTES:
            raise PayloadTooLarge(f"A tool result may be {MAX_RESULT_BYTES} bytes at most")
        form = self.parse_body(ToolChannelResultForm)
        if (form.content is None) == (form.error is None):
            raise InvalidInput("a result has exactly one of content and error")
        await self.services.tool_channels.post_result(self.user, channel, msgspec.to_builtins(form))
        self.write_json(ToolChannelResultResponse(call_id=form.call_id))


class ToolApproveHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Approve or deny a tool call that waits for you (approve_chat: this tool runs "
            "without asking for the rest of the chat)",
            body=ToolApprovalForm,
            response=ToolApprovalResponse,
            statuses=(404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(ToolApprovalForm)
        settings = self.completions.tools
        if settings is None:
            raise NotFound(f"no call {form.call_id} waits for your approval")
        # Calls are keyed by their owner: another user's call is not found.
        settings.approvals.decide(
            self.user.id, form.chat_id, form.message_id, form.call_id, form.decision
        )
        self.write_json(ToolApprovalResponse(call_id=form.call_id, decision=form.decision))


class UndoHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Undo an agent turn: every notebook the assistant message's tool calls changed "
            "goes back to what it was before the turn (byte for byte when nothing else "
            "changed). 409 names the cells you changed since (nothing is undone); 404: "
            "nothing to undo, or not your chat",
            body=UndoForm,
            response=UndoResponse,
            statuses=(404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(UndoForm)
        undo = self.services.notebook_undo
        self.write_json(await undo.undo(self.user, form.chat_id, form.message_id))
