"""Request and response models of the team routes: users, groups, usage and its limits."""

from __future__ import annotations

from typing import Literal

import msgspec


class GroupResponse(msgspec.Struct):
    """A group as the hub names it, with the users seen in it."""

    id: str
    name: str
    members: list[str]
    #: Open WebUI's name for the members
    user_ids: list[str]
    member_count: int


class UsageQuery(msgspec.Struct):
    #: Unix seconds or an ISO 8601 time (UTC unless it names its offset); none: all time
    since: str | None = None
    group_by: Literal["user", "model"] = "user"


class UsageRow(msgspec.Struct):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    #: turns whose tokens were estimated (the upstream reported no usage)
    estimated_requests: int
    user: str | None = None
    model: str | None = None


class UsageResponse(msgspec.Struct):
    since: float
    group_by: str
    data: list[UsageRow]


class UsageLimits(msgspec.Struct):
    """Daily token limits per group (UTC days); ``null`` for a group drops its limit."""

    group_daily_tokens: dict[str, int | None] = {}
