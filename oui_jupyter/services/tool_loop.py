"""The server-side tool loop: a turn with ``tool_ids`` offers those tools to the model, runs
the calls it makes and asks again, up to ``max_rounds`` rounds.

* ``native`` (OpenAI function calling): the tools' ``function_spec``s go as ``tools``; the
  streamed ``tool_calls`` deltas are collected (``merge_call_deltas``) and never relayed to the
  client, whose answer is the model's text only.
* ``default`` (Open WebUI's name for prompt-based): a system prompt describes the tools and a
  strict JSON reply (``{"tool": name, "arguments": {...}}``); a round whose text starts like
  JSON is held back and parsed (``parse_prompted_call``, tolerant of small models' fences,
  tags and chatter); anything else streams as the answer.

Each round's calls run concurrently through ``ToolRegistry.run`` (arguments checked there),
after the policy (``tool_policy``: auto, ask, deny) and, for "ask", the user's decision
(``services/approvals.py``). Each call is a record on the answer (``tool_calls`` in the
message's extra: written when the round starts and when each call ends, one UPDATE of the
row each), a ``tool:call`` socket frame at each status change, and a status ("Running
read_file…"). Then the assistant message with the round's ``tool_calls`` and one ``tool``
message per call are appended and the model is asked again; the round at the limit goes
without tools, so the model answers in text. ``replay`` rebuilds these messages from the
stored records for the later turns of the branch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from oui_jupyter.errors import NotFound, OuiError
from oui_jupyter.services.approvals import DENIED_MESSAGE, TIMED_OUT_MESSAGE, Approvals
from oui_jupyter.tools.policy import Policy, policy_of

if TYPE_CHECKING:
    from oui_jupyter.services.completions import Generation
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.tools.channel import TurnTools
    from oui_jupyter.tools.registry import Registered, ToolRegistry

log = logging.getLogger(__name__)

Mode = Literal["native", "default"]
MAX_TOOL_IDS = 32
TURNED_OFF_MESSAGE = "This tool is turned off on this server; it was not run."

PROMPT_HEAD = (
    "You can call tools to answer. The tools:\n{tools}\n\n"
    "To call a tool, reply with one JSON object and nothing else:\n"
    '{{"tool": "<tool name>", "arguments": {{<the arguments>}}}}\n'
    "If you need no tool, answer the user in plain text, without JSON."
)
PROMPT_RESULT = (
    "The tool {name} answered:\n{result}\n\n"
    "Answer my question with this now in plain text, or call another tool with one JSON object."
)
PROMPT_LAST = "Answer in plain text now; no more tools."


@dataclass
class ToolSettings:
    """The server's tools and how turns use them (``app.py`` builds it from its traitlets)."""

    registry: ToolRegistry
    approvals: Approvals
    root_dir: str
    policy: dict[str, str] = field(default_factory=dict)
    max_rounds: int = 8

    def policy_of(self, entry: Registered) -> Policy:
        return policy_of(self.policy, entry)

    def plan(
        self,
        user: UserInfo,
        tool_ids: list[str],
        mode: Mode,
        notebook_path: str | None,
        turn_tools: TurnTools | None = None,
    ) -> ToolPlan:
        """The turn's tools, each checked as the user's (blocking on first use: entry points
        load); ``NotFound`` "tool X not found" for one the user may not use. ``turn_tools``:
        a team client server's own tools for this turn, over the registry (run through it)."""
        if len(tool_ids) > MAX_TOOL_IDS:
            from oui_jupyter.errors import InvalidInput

            raise InvalidInput(f"tool_ids: at most {MAX_TOOL_IDS} tools")
        entries: list[Registered] = []
        for name in dict.fromkeys(tool_ids):
            try:
                lookup = turn_tools if turn_tools is not None else self.registry
                entries.append(lookup.get(name, user))
            except NotFound:
                missing = NotFound(f"tool {name} not found", reason="tool_not_found")
                missing.fields["detail"] = missing.message  # the shape the helpers agreed on
                raise missing from None
        return ToolPlan(self, entries, mode, notebook_path, turn_tools)


@dataclass(frozen=True)
class ToolPlan:
    """What one turn offers: checked tools, the calling mode, the notebook it is about."""

    settings: ToolSettings
    entries: list[Registered]
    mode: Mode
    notebook_path: str | None = None
    turn_tools: TurnTools | None = None  # where the calls run when a team client brought tools

    @property
    def native(self) -> bool:
        return self.mode == "native"

    def prepare(self, body: dict[str, Any]) -> dict[str, Any]:
        """The first request's body: the tools offered (as ``tools`` or in the prompt)."""
        from oui_jupyter.tools.base import function_spec

        body = {k: v for k, v in body.items() if k not in ("tools", "tool_choice")}
        if self.native:
            body["tools"] = [
                {"type": "function", "function": function_spec(e.tool)} for e in self.entries
            ]
            return body
        lines = "\n".join(
            f"- {e.tool.name}: {e.tool.description} Arguments (JSON Schema): "
            f"{json.dumps(e.tool.parameters, separators=(',', ':'))}"
            for e in self.entries
        )
        body["messages"] = with_system(body["messages"], PROMPT_HEAD.format(tools=lines))
        return body


def with_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``messages`` with ``text`` added to the leading system message (or as one)."""
    if (
        messages
        and messages[0].get("role") == "system"
        and isinstance(messages[0].get("content"), str)
    ):
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def merge_call_deltas(calls: dict[int, dict[str, Any]], deltas: Any) -> None:
    """Add one chunk's ``delta.tool_calls`` to ``calls`` (index -> {id, name, arguments})."""
    if not isinstance(deltas, list):
        return
    for position, delta in enumerate(deltas):
        if not isinstance(delta, dict):
            continue
        index = delta.get("index", position)
        if not isinstance(index, int):
            continue
        call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if isinstance(delta.get("id"), str) and delta["id"]:
            call["id"] = delta["id"]
        function = delta.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str):
                call["name"] += function["name"]
            if isinstance(function.get("arguments"), str):
                call["arguments"] += function["arguments"]
            elif isinstance(function.get("arguments"), dict):
                call["arguments"] = json.dumps(function["arguments"])


def may_be_call(text: str) -> bool:
    """Whether a prompted round's text so far could still be a tool call (held back)."""
    stripped = text.lstrip()
    return not stripped or stripped[0] in "{[`<"


def parse_prompted_call(text: str, names: Iterable[str]) -> dict[str, Any] | None:
    """The first ``{"tool": name, "arguments": {...}}`` in ``text`` naming one of ``names``
    (also ``name``/``function`` for the name and ``parameters``/``args`` for the arguments, in
    a list, fences or ``<tool_call>`` tags); None when the text is an answer."""
    known = set(names)
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position != -1:
        try:
            value, _ = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        for candidate in value if isinstance(value, list) else [value]:
            call = _as_call(candidate, known)
            if call is not None:
                return call
        position = text.find("{", position + 1)
    return None


def _as_call(value: Any, known: set[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    name = next(
        (
            value[k]
            for k in ("tool", "name", "function", "tool_name")
            if isinstance(value.get(k), str)
        ),
        None,
    )
    if isinstance(value.get("function"), dict):  # {"function": {"name", "arguments"}}
        return _as_call(value["function"], known)
    if name not in known:
        return None
    args: Any = next(
        (value[k] for k in ("arguments", "parameters", "args", "input") if k in value), {}
    )
    if isinstance(args, str):
        arguments = args
    else:
        arguments = json.dumps(args if isinstance(args, dict) else {})
    return {"id": "", "name": name, "arguments": arguments}


class ToolLoop:
    """The tool rounds of one answer (``Generation.run`` calls ``step`` after each round)."""

    def __init__(self, plan: ToolPlan, generation: Generation) -> None:
        self.plan = plan
        self.settings = plan.settings
        self.generation = generation
        self.round = 0
        self.offering = True  # the next request offers the tools
        self.mark = generation.length  # where this round's text starts
        self.names = [e.id for e in plan.entries]
        self._entries = {e.id: e for e in plan.entries}
        self._write_lock = asyncio.Lock()
        self._system: str | None = None

    @property
    def native(self) -> bool:
        return self.plan.native

    @property
    def holds_text(self) -> bool:
        """Prompt-based and offering tools: a round's text may be a call, held back."""
        return not self.native and self.offering

    def parse(self, text: str) -> dict[str, Any] | None:
        return parse_prompted_call(text, self.names)

    async def step(self, body: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
        """Run one round's ``calls``; the body of the next request."""
        g = self.generation
        text = g.text()[self.mark :]
        offset = g.length
        records: list[dict[str, Any]] = []
        for i, call in enumerate(calls):
            call_id = call.get("id") or f"call_{self.round}_{i}"
            records.append(
                {
                    "id": call_id,
                    "name": call.get("name") or "",
                    "arguments": call.get("arguments") or "",
                    "round": self.round,
                    "offset": offset,
                    "status": "running",
                    "result": None,
                    "data": None,
                    "sources": [],
                    "approval": None,
                    "started_at": time.time(),
                    "duration_ms": None,
                }
            )
        g.tool_calls.extend(records)
        await g.checkpoint()
        await asyncio.gather(*(self._run(record) for record in records))
        self.round += 1
        self.mark = g.length
        messages = list(body["messages"])
        if self.native:
            messages.append(
                {
                    "role": "assistant",
                    "content": text,
                    "tool_calls": [_openai_call(r) for r in records],
                }
            )
            messages.extend(
                {"role": "tool", "tool_call_id": r["id"], "content": r["result"] or ""}
                for r in records
            )
        else:
            messages.append(
                {"role": "assistant", "content": text.strip() or _prompted_text(records)}
            )
            messages.append(
                {
                    "role": "user",
                    "content": "\n\n".join(
                        PROMPT_RESULT.format(name=r["name"], result=r["result"] or "")
                        for r in records
                    ),
                }
            )
        following = {**body, "messages": messages}
        if self.round >= self.settings.max_rounds:  # the last request: an answer in text
            self.offering = False
            following.pop("tools", None)
            following.pop("tool_choice", None)
            if not self.native:
                messages.append({"role": "system", "content": PROMPT_LAST})
        return following

    # -- one call ----------------------------------------------------------------------
    async def _run(self, record: dict[str, Any]) -> None:
        g = self.generation
        started = time.monotonic()
        entry = self._entries.get(record["name"])
        try:
            if entry is None:
                self._end(
                    record, "error", f"There is no tool named {record['name']!r} in this turn."
                )
                return
            policy = self.settings.policy_of(entry)
            if policy == "deny":
                record["approval"] = "denied"
                self._end(record, "denied", TURNED_OFF_MESSAGE)
                return
            if policy == "ask" and not self.settings.approvals.approved_for_chat(
                g.user_id, g.chat_id, entry.id
            ):
                if not await self._approved(record):
                    return
            else:
                record["approval"] = "auto"
            record["status"] = "running"
            await self._publish(record)
            g.status.resume()
            g.status.say(f"Running {entry.id}…")
            from oui_jupyter.tools.base import ToolContext

            context = ToolContext(
                user=g.user,
                root_dir=self.settings.root_dir,
                chat_id=g.chat_id,
                message_id=g.message_id,
                call_id=record["id"],
                notebook_path=self.plan.notebook_path,
            )
            try:
                runner = self.plan.turn_tools or self.settings.registry
                result = await runner.run(entry.id, record["arguments"], context)
            except OuiError as error:
                self._end(record, "error", error.message)
            except Exception:
                log.exception("oui: tool %s failed", entry.id)
                self._end(record, "error", f"{entry.id} failed with an internal error.")
            else:
                record["data"] = result.data
                record["sources"] = list(result.sources)
                g.sources.extend(result.sources)
                self._end(record, "done", result.content)
        finally:
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
            await self._publish(record)

    async def _approved(self, record: dict[str, Any]) -> bool:
        g = self.generation
        message_id = g.message_id or g.task_id
        record["status"] = "awaiting_approval"
        await self._publish(record)
        g.status.resume()
        g.status.say(
            f"Waiting for approval of {record['name']}",
            action="approval",
            call_id=record["id"],
            chat_id=g.chat_id,
            message_id=message_id,
        )
        outcome = await self.settings.approvals.wait(
            g.user_id, g.chat_id, message_id, record["id"], record["name"]
        )
        if outcome is None or outcome == "denied":
            record["approval"] = "denied"
            self._end(record, "denied", TIMED_OUT_MESSAGE if outcome is None else DENIED_MESSAGE)
            return False
        record["approval"] = outcome
        return True

    @staticmethod
    def _end(record: dict[str, Any], status: str, result: str) -> None:
        record["status"] = status
        record["result"] = result

    async def _publish(self, record: dict[str, Any]) -> None:
        """A status change of a call: the ``tool:call`` frame, and the records saved."""
        g = self.generation
        if g.chat_id is not None:
            g.service.hub.emit(
                g.user_id, "tool:call", dict(record), chat_id=g.chat_id, message_id=g.message_id
            )
        if g.chat_id is None or g.message_id is None:
            return
        async with self._write_lock:  # one write in flight; each saves the latest records
            snapshot = [dict(r) for r in g.tool_calls]
            try:
                await asyncio.to_thread(
                    g.service.turns.set_tool_calls, g.chat_id, g.message_id, snapshot
                )
            except Exception:
                log.exception("oui: could not save the tool calls of message %s", g.message_id)


def _openai_call(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "type": "function",
        "function": {"name": record["name"], "arguments": record["arguments"] or "{}"},
    }


def _prompted_text(records: list[dict[str, Any]]) -> str:
    return "\n".join(
        json.dumps({"tool": r["name"], "arguments": _loads(r["arguments"])}) for r in records
    )


def _loads(arguments: Any) -> Any:
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return arguments


def replay(
    rows: Iterable[dict[str, Any]], native: bool, content_of: Any
) -> Iterator[dict[str, Any]]:
    """A stored branch as prompt messages; an answer with ``tool_calls`` records becomes, per
    round, the assistant text before the calls (``content[:offset]``) with its ``tool_calls``
    and one ``tool`` message per call, then the rest of its text. Without native calling the
    calls are told in the assistant's text instead."""
    for row in rows:
        records = (
            (row.get("extra") or {}).get("tool_calls") if row.get("role") == "assistant" else None
        )
        if not records or not isinstance(records, list):
            yield {"role": row["role"], "content": content_of(row)}
            continue
        content = row.get("content") or ""
        rounds: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            if isinstance(record, dict):
                rounds.setdefault(int(record.get("round") or 0), []).append(record)
        start, told = 0, ""
        for number in sorted(rounds):
            calls = rounds[number]
            offset = min(max(int(calls[0].get("offset") or 0), start), len(content))
            before = content[start:offset]
            start = offset
            if native:
                yield {
                    "role": "assistant",
                    "content": before,
                    "tool_calls": [_openai_call(r) for r in calls],
                }
                for r in calls:
                    yield {
                        "role": "tool",
                        "tool_call_id": r["id"],
                        "content": r.get("result") or "",
                    }
            else:
                told += before + "".join(
                    f"\n[tool {r.get('name')}({r.get('arguments') or ''}) answered: "
                    f"{r.get('result') or ''}]\n"
                    for r in calls
                )
        rest = content[start:]
        if native:
            if rest:
                yield {"role": "assistant", "content": rest}
        else:
            yield {"role": "assistant", "content": told + rest}
