"""MCP both ways, with the official ``mcp`` SDK (imported on first use only).

- ``client``: the admin's MCP servers (``OuiJupyter.mcp_servers``: Streamable HTTP or stdio),
  connected on first need, whose tools join the ``ToolRegistry`` with source ``mcp``;
- ``server``: ``{base_url}oui/mcp``, the built-in tools for MCP clients (Claude Code, Codex,
  Cursor...) behind Jupyter's own authentication (``handlers/mcp.py``, through ``asgi``).

Nothing here imports ``mcp`` at module level but ``client_impl``, ``server_impl`` and
``results``, which only the service (``service.McpService``) loads, when first needed.
"""
