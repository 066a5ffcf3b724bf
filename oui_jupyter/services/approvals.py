"""Tool calls that wait for the user: approve, deny, or approve for this chat.

One place for every waiting call of this server: the tool loop ``wait``s on an asyncio
future per call (``tool_approval_timeout`` seconds, then it counts as denied), and
``POST v1/tools/approve`` ``decide``s it. A call is keyed by its owner, chat, message and
call id: another user's call is "not found", never "forbidden". ``approve_chat`` is
remembered per (user, chat) and tool: later calls of that tool in that chat run without
asking. Decided calls are remembered (the last ``REMEMBERED``) to answer a second decision
with 409.

The futures live in this process: in a team service with several replicas, the decision
must reach the replica that runs the turn (the hub routes a chat's requests to one).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from oui_jupyter.errors import Conflict, InvalidInput, NotFound

Decision = Literal["approve", "deny", "approve_chat"]
#: the ``approval`` a stored call record gets
Outcome = Literal["approved", "approved_chat", "denied"]
DECISIONS = ("approve", "deny", "approve_chat")
REMEMBERED = 4096
DENIED_MESSAGE = "The user denied this call."
TIMED_OUT_MESSAGE = "The user did not approve this call in time; it was not run."

Key = tuple[str, str, str, str]  # user id, chat id ("" outside a chat), message id, call id


@dataclass
class _Waiting:
    tool: str
    future: asyncio.Future[Outcome]


class Approvals:
    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout
        self._waiting: dict[Key, _Waiting] = {}
        self._decided: OrderedDict[Key, Outcome] = OrderedDict()
        self._chat_tools: OrderedDict[tuple[str, str], set[str]] = OrderedDict()

    def approved_for_chat(self, user_id: str, chat_id: str | None, tool: str) -> bool:
        return chat_id is not None and tool in self._chat_tools.get((user_id, chat_id), ())

    def waiting(self, user_id: str) -> list[Key]:
        """The keys of the user's waiting calls (for tests and diagnostics)."""
        return [k for k in self._waiting if k[0] == user_id]

    async def wait(
        self, user_id: str, chat_id: str | None, message_id: str, call_id: str, tool: str
    ) -> Outcome | None:
        """The user's decision on this call; None when none came within ``timeout``."""
        key: Key = (user_id, chat_id or "", message_id, call_id)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[key] = _Waiting(tool, future)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            self._remember(key, "denied")
            return None
        finally:
            self._waiting.pop(key, None)

    def decide(
        self, user_id: str, chat_id: str | None, message_id: str, call_id: str, decision: str
    ) -> Outcome:
        """Answer a waiting call: ``NotFound`` when the user has no such call, ``Conflict``
        when it was decided already."""
        if decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}")
        key: Key = (user_id, chat_id or "", message_id, call_id)
        waiting = self._waiting.get(key)
        if waiting is None or waiting.future.done():
            if key in self._decided or waiting is not None:
                raise Conflict(f"call {call_id} was already decided")
            raise NotFound(f"no call {call_id} waits for your approval")
        outcome: Outcome = {
            "approve": "approved",
            "deny": "denied",
            "approve_chat": "approved_chat",
        }[decision]  # type: ignore[assignment]
        if outcome == "approved_chat" and chat_id:
            self._chat_tools.setdefault((user_id, chat_id), set()).add(waiting.tool)
            self._chat_tools.move_to_end((user_id, chat_id))
            while len(self._chat_tools) > REMEMBERED:
                self._chat_tools.popitem(last=False)
        self._remember(key, outcome)
        waiting.future.set_result(outcome)
        return outcome

    def _remember(self, key: Key, outcome: Outcome) -> None:
        self._decided[key] = outcome
        while len(self._decided) > REMEMBERED:
            self._decided.popitem(last=False)
