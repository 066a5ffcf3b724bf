"""Names of collections in the index (light: handlers import it at extension load)."""

from __future__ import annotations

from collections.abc import Iterable

#: The index's marker that private collection keys are in the escaped form below.
PRIVATE_KEYS_MARKER = "private_keys_escaped"


def file_collection(file_id: str) -> str:
    """The collection of one upload."""
    return f"file-{file_id}"


def _escape_user(user_id: str) -> str:
    return user_id.replace("%", "%25").replace(":", "%3A")


def private_collection(user_id: str, name: str) -> str:
    """Where a user's own named collection (``process/text``, ``process/file`` into a name)
    lives in the index: ``user:{user id}:{name}`` with ``%`` and ``:`` of the user id escaped
    (``%25``, ``%3A``), so the first ``:`` after the user id ends it and one user's ``notes``
    is never another's (unescaped, ``alice:x`` + ``notes`` read as ``alice`` + ``x:notes``).
    Ids without ``%`` or ``:`` keep the keys they always had."""
    return f"user:{_escape_user(user_id)}:{name}"


def legacy_private_renames(collections: Iterable[str], user_ids: Iterable[str]) -> dict[str, str]:
    """Old key -> new key for the private collections stored unescaped (``user:{id}:{name}``)
    by users whose id has ``%`` or ``:``. An old key that two user ids could have made
    (``alice`` and ``alice:x`` both own ``user:alice:x:notes``) goes to the longer id."""
    needing = sorted((u for u in set(user_ids) if _escape_user(u) != u), key=len, reverse=True)
    renames: dict[str, str] = {}
    if not needing:
        return renames
    for key in collections:
        if not key.startswith("user:"):
            continue
        rest = key[len("user:") :]
        for user_id in needing:
            if rest.startswith(user_id + ":"):
                renames[key] = private_collection(user_id, rest[len(user_id) + 1 :])
                break
    return renames
