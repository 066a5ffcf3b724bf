"""A small MCP server made with the SDK's own ``MCPServer``, for the MCP client's tests.

``python mcp_echo.py stdio`` or ``python mcp_echo.py http PORT`` (Streamable HTTP at
``/mcp``). With ``$MCP_ECHO_PID_FILE`` set, it writes its process id there first.
"""

from __future__ import annotations

import base64
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ImageContent, TextContent

server = MCPServer("echo")


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(name="shout.loud", description="The text in capitals.")
def shout(text: str) -> str:
    return text.upper()


@server.tool(description="Always fails.")
def broken() -> str:
    raise ValueError("the echo server broke on purpose")


@server.tool(description="A caption and a tiny image.")
def picture() -> list[TextContent | ImageContent]:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    return [TextContent(text="a black square"), ImageContent(data=png, mime_type="image/png")]


@server.tool(description="The value of a request header (HTTP only).")
def header(name: str, ctx: Context) -> str:
    headers = ctx.headers or {}
    return str(headers.get(name, "<none>"))


@server.tool(description="An environment variable of the server's process.")
def getenv(name: str) -> str:
    return os.environ.get(name, "<unset>")


if __name__ == "__main__":
    pid_file = os.environ.get("MCP_ECHO_PID_FILE")
    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
