"""Usage: one record per completion turn, reports for admins, per-group daily token limits.

A turn's tokens are the upstream's ``usage`` when it reports one (a streamed turn asks for it
with ``stream_options.include_usage``), else an estimate (about four characters a token)
marked ``estimated``. The record is one INSERT in a worker thread, after the turn.

Limits: ``{"group_daily_tokens": {"<group>": N}}`` (the ``OuiJupyter.group_daily_tokens``
default, or what an admin stored through ``v1/usage/limits``). Before a turn starts, a user
in a limited group whose turns today (UTC) used N tokens or more gets ``RateLimited`` (429),
naming the limit and when it resets. With several limited groups, the smallest limit reached
is named.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, RateLimited
from oui_jupyter.services import authz

if TYPE_CHECKING:  # the stores import SQLAlchemy: not at extension load
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.usage import UsageRecord, UsageStore
    from oui_jupyter.store.users import ConfigStore

log = logging.getLogger(__name__)

LIMITS_KEY = "usage_limits"
GROUP_BYS = ("user", "model")
MAX_LIMITED_GROUPS = 1000
CHARS_PER_TOKEN = 4
DAY = 86_400


def start_of_day(now: float) -> float:
    """Midnight UTC of the day ``now`` is in."""
    return float(int(now // DAY) * DAY)


def estimate_tokens(texts: Iterable[str]) -> int:
    return sum(math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts if t)


def parse_since(raw: str | None) -> float:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it names its offset); none: 0."""
    if raw is None or not raw.strip():
        return 0.0
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(
                f"since must be Unix seconds or an ISO 8601 time, not {raw[:40]!r}"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    if not math.isfinite(value) or value < 0:
        raise InvalidInput("since must be a non-negative number of Unix seconds")
    return value


def validate_limits(raw: Any) -> dict[str, int]:
    """``{"group_daily_tokens": {"<group>": N}}`` (N a whole number >= 0; ``null`` drops the
    group) as the stored mapping; anything else is ``InvalidInput``."""
    if not isinstance(raw, dict) or set(raw) - {"group_daily_tokens"}:
        raise InvalidInput('the body must be {"group_daily_tokens": {"<group>": tokens}}')
    groups = raw.get("group_daily_tokens") or {}
    if not isinstance(groups, dict):
        raise InvalidInput("group_daily_tokens must be an object of group: tokens")
    if len(groups) > MAX_LIMITED_GROUPS:
        raise InvalidInput(f"at most {MAX_LIMITED_GROUPS} groups may have a limit")
    clean: dict[str, int] = {}
    for group, tokens in groups.items():
        if not group or len(group) > authz.MAX_ID_LENGTH:
            raise InvalidInput(f"group names are 1-{authz.MAX_ID_LENGTH} characters")
        if tokens is None:
            continue
        if isinstance(tokens, float) and tokens.is_integer():
            tokens = int(tokens)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise InvalidInput(f"the limit of group {group!r} must be a whole number >= 0")
        clean[group] = tokens
    return clean


def _reset_text(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes // 60}h {minutes % 60}m"


class UsageService:
    def __init__(
        self,
        store: UsageStore,
        config: ConfigStore,
        default_limits: dict[str, int] | None = None,
        *,
        limits_ttl: float = 5.0,
    ) -> None:
        """``limits_ttl``: how long a stored limits setting is reused before it is read again
        (other replicas may change it)."""
        self.store = store
        self.config = config
        self.default_limits = validate_limits({"group_daily_tokens": default_limits or {}})
        self.limits_ttl = limits_ttl
        self._limits: tuple[float, dict[str, int]] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    # ----- recording -----
    def record_turn(
        self,
        *,
        user_id: str,
        model: str,
        chat_id: str | None,
        usage: dict[str, Any] | None,
        prompt: list[dict[str, Any]],
        completion: str,
    ) -> None:
        """Record one turn off the event loop (in this thread when there is no loop)."""
        from oui_jupyter.store.usage import UsageRecord

        prompt_tokens = _count(usage, "prompt_tokens")
        completion_tokens = _count(usage, "completion_tokens")
        estimated = prompt_tokens is None or completion_tokens is None
        if prompt_tokens is None:
            prompt_tokens = estimate_tokens(_texts(prompt))
        if completion_tokens is None:
            completion_tokens = estimate_tokens([completion])
        entry = UsageRecord(
            user_id=user_id,
            model=model,
            chat_id=chat_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            estimated=estimated,
            created_at=time.time(),
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(entry)
            return
        future = loop.run_in_executor(None, self._write, entry)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _write(self, entry: UsageRecord) -> None:
        try:
            self.store.record(entry)
        except Exception:
            log.exception("oui: could not record the usage of a turn of %s", entry.user_id)

    async def flush(self) -> None:
        """Wait for the records being written (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # ----- limits -----
    def limits(self) -> dict[str, int]:
        """The groups' daily token limits in force (a database read at most every
        ``limits_ttl`` seconds)."""
        cached = self._limits
        if cached is not None and time.monotonic() - cached[0] < self.limits_ttl:
            return cached[1]
        stored = self.config.get(LIMITS_KEY)
        limits = dict(stored) if isinstance(stored, dict) else dict(self.default_limits)
        self._limits = (time.monotonic(), limits)
        return limits

    def limits_for(self, user: UserInfo) -> dict[str, Any]:
        authz.require_admin(user, "Only admins may read the usage limits")
        return {"group_daily_tokens": self.limits()}

    def set_limits(self, user: UserInfo, raw: Any) -> dict[str, Any]:
        authz.require_admin(user, "Only admins may change the usage limits")
        limits = validate_limits(raw)
        self.config.set(LIMITS_KEY, limits)
        self._limits = (time.monotonic(), limits)
        return {"group_daily_tokens": limits}

    async def check(self, user: UserInfo) -> None:
        """Before a turn: ``RateLimited`` when one of the user's groups' limits is reached."""
        if not user.groups:
            return
        limits = await asyncio.to_thread(self.limits)
        applicable = sorted((limits[g], g) for g in user.groups if g in limits)
        if not applicable:
            return
        now = time.time()
        used = await asyncio.to_thread(self.store.tokens_since, user.id, start_of_day(now))
        for limit, group in applicable:
            if used >= limit:
                wait = start_of_day(now) + DAY - now
                raise RateLimited(
                    f"Daily token limit of {limit} for group '{group}' reached; it resets at "
                    f"00:00 UTC (in {_reset_text(wait)})",
                    retry_after=math.ceil(wait),
                    reason="daily_token_limit",
                )

    # ----- reports -----
    def summary(self, user: UserInfo, since: str | None, group_by: str) -> dict[str, Any]:
        authz.require_admin(user, "Only admins may read usage")
        if group_by not in GROUP_BYS:
            raise InvalidInput("group_by must be 'user' or 'model'")
        start = parse_since(since)
        return {
            "since": start,
            "group_by": group_by,
            "data": self.store.summary(start, group_by),
        }


def _count(usage: dict[str, Any] | None, key: str) -> int | None:
    value = (usage or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    from oui_jupyter.services.message_text import text_of

    return [text_of(m.get("content")) for m in messages if isinstance(m, dict)]
