"""SQL for usage records: one row per completion turn, summed for reports and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, select

from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Usage

#: what a report may group by, and the column it groups on
GROUP_COLUMNS = {"user": Usage.user_id, "model": Usage.model}


@dataclass(frozen=True)
class UsageRecord:
    user_id: str
    model: str
    chat_id: str | None
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    created_at: float


class UsageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, entry: UsageRecord) -> None:
        """One INSERT."""
        with self.db.session() as session:
            session.execute(
                insert(Usage).values(
                    user_id=entry.user_id,
                    model=entry.model[:255],
                    chat_id=entry.chat_id,
                    prompt_tokens=max(0, entry.prompt_tokens),
                    completion_tokens=max(0, entry.completion_tokens),
                    estimated=entry.estimated,
                    created_at=entry.created_at,
                )
            )

    def tokens_since(self, user_id: str, since: float) -> int:
        """Prompt + completion tokens of ``user_id``'s turns since ``since`` (the index
        ``ix_usage_user_created`` answers it)."""
        total = Usage.prompt_tokens + Usage.completion_tokens
        with self.db.reader() as session:
            value = session.scalar(
                select(func.coalesce(func.sum(total), 0)).where(
                    Usage.user_id == user_id, Usage.created_at >= since
                )
            )
        return int(value or 0)

    def summary(self, since: float, group_by: str) -> list[dict[str, Any]]:
        """Per user or per model: requests, prompt and completion tokens since ``since``,
        the largest total first."""
        key = GROUP_COLUMNS[group_by]
        prompt = func.coalesce(func.sum(Usage.prompt_tokens), 0)
        completion = func.coalesce(func.sum(Usage.completion_tokens), 0)
        estimated = func.coalesce(func.sum(case((Usage.estimated, 1), else_=0)), 0)
        query = (
            select(key, func.count(), prompt, completion, estimated)
            .where(Usage.created_at >= since)
            .group_by(key)
            .order_by((prompt + completion).desc(), key)
        )
        with self.db.reader() as session:
            rows = session.execute(query).all()
        return [
            {
                group_by: name,
                "requests": int(count),
                "prompt_tokens": int(p),
                "completion_tokens": int(c),
                "total_tokens": int(p) + int(c),
                "estimated_requests": int(e),
            }
            for name, count, p, c, e in rows
        ]
