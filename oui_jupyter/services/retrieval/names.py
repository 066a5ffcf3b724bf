"""Names of collections in the index (light: handlers import it at extension load)."""

from __future__ import annotations


def file_collection(file_id: str) -> str:
    """The collection of one upload."""
    return f"file-{file_id}"


def private_collection(user_id: str, name: str) -> str:
    """Where a user's own named collection (``process/text``, ``process/file`` into a name)
    lives in the index: one user's ``notes`` is never another's."""
    return f"user:{user_id}:{name}"
