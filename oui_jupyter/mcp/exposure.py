"""Which tools ``oui/mcp`` offers: the built-ins the user may use that run without asking.

An MCP client has no approval prompt of ours to show, so a tool that would wait for the
user (``requires_approval``, or ``tool_policy`` saying ``"ask"``) is not offered, nor one
the policy denies; ``tool_policy[name] == "auto"`` offers one that requires approval.
Tools of entry points and of other MCP servers stay in the sidebar and the notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from oui_jupyter.tools.policy import policy_of

if TYPE_CHECKING:
    from oui_jupyter.tools.registry import Registered


def exposed(entry: Registered, policy: Mapping[str, str]) -> bool:
    return entry.source == "builtin" and policy_of(policy, entry) == "auto"
