"""Test-only tools for the tool loop's tests, registered on a real server's registry."""

from __future__ import annotations

from typing import Any, ClassVar

from oui_jupyter.tools.base import ToolContext, ToolResult


class EchoTool:
    name = "echo"
    description = "Say the text back."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }
    requires_approval = False

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], ToolContext]] = []

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        self.calls.append((args, context))
        return ToolResult(f"echo: {args['text']}", data={"echoed": args["text"]})


class GuardedTool(EchoTool):
    """Changes things (so it waits for approval); counts its runs."""

    name = "guarded"
    description = "Write the text somewhere (needs the user's approval)."
    requires_approval = True

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        self.calls.append((args, context))
        return ToolResult(f"wrote: {args['text']}")


async def install_tools(jp_serverapp: Any) -> tuple[EchoTool, GuardedTool]:
    """Add ``echo`` and ``guarded`` to the server's registry (once its services are built)."""
    runtime = jp_serverapp.web_app.settings["oui_runtime"]
    services = await runtime.ready()
    echo, guarded = EchoTool(), GuardedTool()
    for tool in (echo, guarded):
        services.tools.remove(tool.name)
        services.tools.add(tool, "entrypoint")
    return echo, guarded
