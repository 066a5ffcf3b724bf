"""Tools a model may call: the interface (``base``), the registry and the built-ins.

Tools are built-ins (this package), Python entry points of installed packages (group
``oui_jupyter.tools``) and, later, the tools of configured MCP servers. Tool code never
comes from the database and is never ``exec``'d.
"""
