"""``tool_policy``: whether a tool runs without asking, waits for the user, or is off.

The admin's word for a tool's name wins; a tool it does not name waits for approval when it
``requires_approval`` and runs at once otherwise. The tool loop and ``oui/mcp`` both ask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from oui_jupyter.tools.registry import Registered

Policy = Literal["auto", "ask", "deny"]
POLICIES: tuple[Policy, ...] = ("auto", "ask", "deny")


def policy_of(policy: Mapping[str, str], entry: Registered) -> Policy:
    word = policy.get(entry.id)
    for known in POLICIES:
        if word == known:
            return known
    return "ask" if entry.tool.requires_approval else "auto"
