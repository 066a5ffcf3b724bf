"""Filling a library prompt's ``{{variables}}`` for ``%%chat /command``.

A prompt's content keeps Open WebUI's ``{{name}}`` placeholders (``{{name | ...}}`` too:
what follows ``|`` is the browser's input hint and is ignored here). ``%%chat /command``
fills each one from, in order: ``--var name=value`` on the magic's line; Open WebUI's
built-ins (``CURRENT_DATE``, ``CURRENT_TIME``, ``CURRENT_DATETIME``, ``CURRENT_WEEKDAY``,
``CURRENT_TIMEZONE``, ``USER_NAME``); the kernel's variable of that name (its ``str``).
A placeholder none of them fills is an error naming it, before anything is sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

#: ``{{name}}`` or ``{{name | type:...}}`` (Open WebUI's input variables)
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|[^{}]*)?\}\}")


class MissingVariables(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def variables(content: str) -> list[str]:
    """The placeholders' names, first appearance first, each once."""
    return list(dict.fromkeys(m.group(1) for m in VARIABLE.finditer(content)))


def builtins(user_name: str = "", now: float | None = None) -> dict[str, str]:
    """Open WebUI's built-in variables, as the kernel sees the clock."""
    t = time.localtime(now if now is not None else time.time())
    values = {
        "CURRENT_DATE": time.strftime("%Y-%m-%d", t),
        "CURRENT_TIME": time.strftime("%H:%M:%S", t),
        "CURRENT_DATETIME": time.strftime("%Y-%m-%d %H:%M:%S", t),
        "CURRENT_WEEKDAY": time.strftime("%A", t),
        "CURRENT_TIMEZONE": time.strftime("%Z", t),
    }
    if user_name:
        values["USER_NAME"] = user_name
    return values


def parse_vars(items: list[str]) -> dict[str, str]:
    """``--var name=value`` items (the value may hold ``=``; quotes around it are dropped)."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"--var {item!r}: write --var name=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def fill(
    content: str,
    given: Mapping[str, str],
    namespace: Mapping[str, Any],
    user_name: str = "",
) -> str:
    """``content`` with every placeholder filled (``MissingVariables`` names the others)."""
    known = builtins(user_name)
    missing = [
        name
        for name in variables(content)
        if name not in given and name not in known and name not in namespace
    ]
    if missing:
        raise MissingVariables(missing)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in given:
            return given[name]
        if name in known:
            return known[name]
        return str(namespace[name])

    return VARIABLE.sub(value, content)
