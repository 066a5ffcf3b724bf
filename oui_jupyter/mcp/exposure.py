"""Which tools ``oui/mcp`` offers: the built-ins the user may use that run without asking.

An MCP client has no approval prompt of ours to show, so a tool that would wait for the
user (``requires_approval``, or ``tool_policy`` saying ``"ask"``) is not offered, nor one
the policy denies; ``tool_policy[name] == "auto"`` offers one that requires approval.
Tools of entry points and of other MCP servers stay in the sidebar and the notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oui_jupyter.tools.registry import Registered

POLICIES = ("auto", "ask", "deny")


def effective_policy(policy: Mapping[str, str], name: str, requires_approval: bool) -> str:
    """``tool_policy``'s word for ``name``; a tool it does not name: ``"ask"`` if it
    requires approval, else ``"auto"`` (the tools protocol's rule)."""
    word = policy.get(name)
    if word in POLICIES:
        return word
    return "ask" if requires_approval else "auto"


def exposed(entry: Registered, policy: Mapping[str, str]) -> bool:
    if entry.source != "builtin":
        return False
    return effective_policy(policy, entry.id, bool(entry.tool.requires_approval)) == "auto"
