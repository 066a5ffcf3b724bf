"""The registry: built-ins and entry points, who may use what, argument checks, limits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import pytest

from oui_jupyter.errors import NotFound
from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import (
    BlockingTool,
    ToolContext,
    ToolError,
    ToolLimits,
    ToolResult,
    ToolTimeout,
    openai_tool,
)
from oui_jupyter.tools.builtin import builtin_tools
from oui_jupyter.tools.registry import ToolRegistry

from .conftest import ADMIN, ALICE

BOB = UserInfo("bob", "bob", "Bob", "user", ())


class Echo:
    name = "echo"
    description = "Say it back"
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 10}},
        "required": ["text"],
        "additionalProperties": False,
    }
    requires_approval = False

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        return ToolResult(args["text"], {"who": context.user.id})


class Slow(BlockingTool):
    name = "slow"
    description = "Sleeps"
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    requires_approval = True

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        import time

        time.sleep(0.5)
        return ToolResult("late")


class FakeEntryPoint:
    def __init__(self, name: str, obj: Any) -> None:
        self.name = name
        self.value = f"pkg:{name}"
        self._obj = obj

    def load(self) -> Any:
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def make(entry_points: list[Any] | None = None, **kwargs: Any) -> ToolRegistry:
    return ToolRegistry(
        builtin_tools(None, ToolLimits()),
        entry_points=entry_points is not None,
        load_entry_points=lambda: entry_points or [],
        **kwargs,
    )


def run(registry: ToolRegistry, name: str, args: Any, ctx: ToolContext) -> ToolResult:
    return asyncio.run(registry.run(name, args, ctx))


def test_listing_shape():
    tools = make().list(ALICE)
    assert [t["id"] for t in tools] == ["list_files", "read_file", "read_notebook", "sql"]
    sql = tools[-1]
    assert sql["source"] == "builtin" and sql["requires_approval"] is False
    assert sql["spec"]["name"] == "sql" and sql["spec"]["parameters"]["required"] == ["query"]
    assert sql["meta"]["description"] == sql["spec"]["description"]


def test_entry_points_join_and_bad_ones_are_skipped(caplog):
    class NoRun:
        name = "norun"
        description = "x"
        parameters: ClassVar[dict[str, Any]] = {"type": "object"}
        requires_approval = False

    class Clash(Echo):
        name = "sql"

    eps = [
        FakeEntryPoint("echo", Echo),  # a class: instantiated
        FakeEntryPoint("slow", lambda: [Slow()]),  # a factory of a list
        FakeEntryPoint("broken", ImportError("no module")),
        FakeEntryPoint("norun", NoRun()),
        FakeEntryPoint("clash", Clash()),
        FakeEntryPoint("badname", type("Bad", (Echo,), {"name": "bad name!"})()),
        FakeEntryPoint(
            "badschema", type("BadSchema", (Echo,), {"name": "bs", "parameters": {"type": "str"}})()
        ),
    ]
    with caplog.at_level(logging.WARNING):
        registry = make(eps)
        tools = {t["id"]: t for t in registry.list(ALICE)}
    assert set(tools) == {"echo", "slow", "list_files", "read_file", "read_notebook", "sql"}
    assert tools["echo"]["source"] == "entrypoint" and tools["sql"]["source"] == "builtin"
    assert tools["slow"]["requires_approval"] is True
    logged = caplog.text
    for what in ("broken", "norun", "already registered", "bad name!", '"type": "object"'):
        assert what in logged


def test_access_control_hides_a_tool(ctx):
    registry = make(access={"sql": {"read": {"group_ids": ["staff"]}}, "read_file": {}})
    assert "sql" in [t["id"] for t in registry.list(ALICE)]  # alice is in staff
    assert "read_file" not in [t["id"] for t in registry.list(ALICE)]
    assert {"sql", "read_file"} - {t["id"] for t in registry.list(BOB)} == {"sql", "read_file"}
    assert {"sql", "read_file"} <= {t["id"] for t in registry.list(ADMIN)}
    with pytest.raises(NotFound):
        run(registry, "read_file", {"path": "notes.md"}, ctx)
    bobs = ToolContext(user=BOB, root_dir=ctx.root_dir)
    with pytest.raises(NotFound):
        run(registry, "sql", {"query": "SELECT 1"}, bobs)


def test_a_bad_admin_rule_closes_the_tool(caplog):
    registry = make(access={"sql": {"read": "everyone"}})
    assert "sql" not in [t["id"] for t in registry.list(ALICE)]
    assert "sql" in [t["id"] for t in registry.list(ADMIN)]
    assert "admins only" in caplog.text


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ({}, "'text' is a required property"),
        ({"text": 3}, "at 'text': 3 is not of type 'string'"),
        ({"text": "x" * 11}, "is too long"),
        ({"text": "x", "more": 1}, "Additional properties are not allowed ('more' was unexpected)"),
    ],
)
def test_arguments_are_checked(ctx, args, why):
    registry = make([FakeEntryPoint("echo", Echo())])
    with pytest.raises(ToolError) as info:
        run(registry, "echo", args, ctx)
    assert info.value.message.startswith("echo: ") and why in info.value.message


def test_arguments_as_openai_sends_them(ctx):
    registry = make([FakeEntryPoint("echo", Echo())])
    result = run(registry, "echo", '{"text": "hi"}', ctx)
    assert result.to_json() == {"content": "hi", "data": {"who": "alice"}, "sources": []}
    assert openai_tool(registry.get("echo", ALICE).tool)["function"]["name"] == "echo"


def test_unknown_tool_and_timeout(ctx):
    registry = make([FakeEntryPoint("slow", Slow())], timeout=0.1)
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        run(registry, "nope", {}, ctx)
    with pytest.raises(ToolTimeout, match=r"no answer within 0\.1 s"):
        run(registry, "slow", {}, ctx)


def test_a_registry_without_a_workspace_refuses_workspace_tools() -> None:
    """The team service's registry (``workspace_tools=False``): no tool that declares
    ``workspace = True``, whatever its source; the others are welcome."""
    from oui_jupyter.tools.base import ToolLimits, needs_workspace
    from oui_jupyter.tools.builtin import builtin_tools

    builtins = builtin_tools(None, ToolLimits())
    assert builtins and all(needs_workspace(t) for t in builtins)
    service = ToolRegistry(entry_points=False, workspace_tools=False)
    for tool in builtins:
        with pytest.raises(ValueError, match="workspace"):
            service.add(tool, "entrypoint")
    assert service.list(ALICE) == []
