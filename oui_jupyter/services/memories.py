"""Users' memories (Open WebUI's memories): facts a user keeps, put into the system prompt
of their turns when relevant and the user turned memories on (user settings ``ui.memory``;
a turn's ``features.memory`` says yes or no for that turn).

Relevance: the words the turn's question shares with a memory (keyword coverage, as the
workspace index spells words), and, once the retrieval service's embedding model is loaded,
the cosine of their embeddings. A cold model is never loaded nor waited for here: the
keywords answer until the workspace index has loaded it. Memory vectors are kept in memory
(per model, per memory version) and made a few per turn, so no turn waits for many.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import NotFound
from oui_jupyter.schemas.library import MemoryQueryResponse, MemoryResponse
from oui_jupyter.services.message_text import text_of
from oui_jupyter.services.users import UserInfo

if TYPE_CHECKING:
    from oui_jupyter.providers.embeddings import EmbeddingProvider
    from oui_jupyter.store.memories import MemoryStore
    from oui_jupyter.store.orm import Memory

log = logging.getLogger(__name__)

#: memories put into one turn's system prompt (Open WebUI's k)
TURN_K = 3
#: the least cosine for a memory to count by meaning alone
MIN_COSINE = 0.45
#: memories embedded during one turn at most (the others count by keywords meanwhile)
EMBED_PER_TURN = 32
#: vectors kept in all
MAX_VECTORS = 20_000
#: seconds without embeddings after the engine failed (no turn waits on a dead endpoint)
RETRY_AFTER = 60.0
#: the user setting that turns memories on (Open WebUI's ``ui.memory``)
SETTING = ("ui", "memory")


@dataclass(frozen=True)
class Scored:
    memory: Memory
    score: float


def memory_json(row: Memory) -> MemoryResponse:
    return MemoryResponse(
        id=row.id,
        user_id=row.user_id,
        content=row.content,
        updated_at=int(row.updated_at),
        created_at=int(row.created_at),
    )


def context_block(memories: list[Memory]) -> str:
    """Open WebUI's system prompt addition: ``User Context:`` and the dated facts."""
    lines = [
        f"{i}. [{time.strftime('%Y-%m-%d', time.localtime(m.created_at))}] {m.content}"
        for i, m in enumerate(memories, 1)
    ]
    return "User Context:\n" + "\n".join(lines) + "\n"


def with_system_text(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``text`` appended to the first system message, or a system message in front."""
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        return [{**first, "content": f"{text_of(first.get('content'))}\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


class MemoryService:
    def __init__(
        self,
        store: MemoryStore,
        settings_of: Callable[[str], dict[str, Any]],
        embedder: Callable[[], EmbeddingProvider | None] = lambda: None,
    ) -> None:
        """``settings_of``: a user id's settings (``v1/users/user/settings``);
        ``embedder``: the retrieval service's embedding model, if any (used once loaded)."""
        self.store = store
        self.settings_of = settings_of
        self.embedder = embedder
        self._vectors: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._failed_at = -RETRY_AFTER  # when the embedding engine last failed

    # ----- the routes (blocking: call them off the event loop) -----
    def mine(self, user: UserInfo) -> list[MemoryResponse]:
        return [memory_json(m) for m in self.store.list(user.id)]

    def add(self, user: UserInfo, content: str) -> MemoryResponse:
        return memory_json(self.store.add(_ordered_id(), user.id, content.strip() or content))

    def update(self, user: UserInfo, memory_id: str, content: str) -> MemoryResponse:
        return memory_json(self.store.update(memory_id, user.id, content.strip() or content))

    def delete(self, user: UserInfo, memory_id: str) -> bool:
        self.store.delete(memory_id, user.id)
        return True

    def delete_all(self, user: UserInfo) -> bool:
        self.store.delete_all(user.id)
        return True

    def reset(self, user: UserInfo) -> bool:
        """Open WebUI's ``reset``: the user's vectors are made again (on their next use)."""
        with self._lock:
            for key in [k for k in self._vectors if k[1] == user.id]:
                del self._vectors[key]
        return True

    def query(self, user: UserInfo, content: str, k: int) -> MemoryQueryResponse:
        memories = self.store.list(user.id)
        if not memories:
            raise NotFound("No memories found for user")
        found = self.rank(user, memories, content, keep_all=True)[:k]
        return MemoryQueryResponse(
            ids=[[s.memory.id for s in found]],
            documents=[[s.memory.content for s in found]],
            metadatas=[
                [
                    {"created_at": s.memory.created_at, "updated_at": s.memory.updated_at}
                    for s in found
                ]
            ],
            distances=[[round(s.score, 4) for s in found]],
        )

    # ----- turns -----
    def enabled(self, user: UserInfo) -> bool:
        settings = self.settings_of(user.id) or {}
        ui = settings.get(SETTING[0])
        return isinstance(ui, dict) and ui.get(SETTING[1]) is True

    def relevant(self, user: UserInfo, query: str, k: int = TURN_K) -> list[Memory]:
        memories = self.store.list(user.id)
        if not memories or not query.strip():
            return []
        return [s.memory for s in self.rank(user, memories, query)[:k]]

    async def into_prompt(
        self, user: UserInfo, messages: list[dict[str, Any]], features: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The turn's messages with the relevant memories in the system prompt, when the
        user wants memories (``features.memory``, else the ``ui.memory`` setting)."""
        wanted = features.get("memory")
        if wanted is False:
            return messages
        query = next(
            (text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        if not query.strip():
            return messages

        def find() -> list[Memory]:
            if wanted is not True and not self.enabled(user):
                return []
            return self.relevant(user, query)

        found = await asyncio.to_thread(find)
        return with_system_text(messages, context_block(found)) if found else messages

    # ----- relevance -----
    def rank(
        self, user: UserInfo, memories: list[Memory], query: str, *, keep_all: bool = False
    ) -> list[Scored]:
        """Memories by relevance to ``query``, best first: keyword coverage and (model
        loaded) cosine, half each; without ``keep_all`` only those that share a topic word
        with the query or are near it in meaning."""
        from oui_jupyter.services.retrieval.relevance import query_terms
        from oui_jupyter.store.keyword_index import tokenize

        terms = query_terms(query)
        n = len(memories)
        words = [set(tokenize(m.content)) for m in memories]
        idf = {t: math.log(1 + n / (1 + sum(t in w for w in words))) for t in terms}
        total = sum(idf.values()) or 1.0
        cosines = self._cosines(user, memories, query)
        scored: list[Scored] = []
        for memory, mwords, cosine in zip(memories, words, cosines, strict=True):
            coverage = sum(idf[t] for t in terms if t in mwords) / total
            keep = coverage > 0 or (cosine is not None and cosine >= MIN_COSINE)
            if not keep and not keep_all:
                continue
            score = coverage if cosine is None else 0.5 * coverage + 0.5 * max(cosine, 0.0)
            scored.append(Scored(memory, score))
        scored.sort(key=lambda s: (-s.score, -s.memory.created_at))
        return scored

    def _cosines(self, user: UserInfo, memories: list[Memory], query: str) -> list[float | None]:
        """Each memory's cosine to ``query``; ``None`` where there is no vector (no model
        loaded, or not embedded yet: a few are made per call)."""
        embedder = self.embedder()
        resting = time.monotonic() - self._failed_at < RETRY_AFTER
        if embedder is None or not embedder.ready or resting:
            return [None] * len(memories)
        import numpy as np

        model = embedder.model_id
        keys = [(model, user.id, f"{m.id}:{m.updated_at}") for m in memories]
        with self._lock:
            vectors = [self._vectors.get(k) for k in keys]
        missing = [i for i, v in enumerate(vectors) if v is None][:EMBED_PER_TURN]
        texts = [query, *(memories[i].content for i in missing)]
        try:
            made = embedder.embed(texts)
        except Exception as exc:  # a remote engine that fails: the keywords answer alone
            self._failed_at = time.monotonic()
            log.warning("oui: memories ranked by keywords only for %g s: %s", RETRY_AFTER, exc)
            return [None] * len(memories)
        qvec = _unit(np.asarray(made[0], dtype=np.float32))
        with self._lock:
            if len(self._vectors) + len(missing) > MAX_VECTORS:
                self._vectors.clear()
            for j, i in enumerate(missing, 1):
                vectors[i] = _unit(np.asarray(made[j], dtype=np.float32))
                self._vectors[keys[i]] = vectors[i]
        return [None if v is None else float(np.dot(qvec, v)) for v in vectors]


def _ordered_id() -> str:
    """A UUID-shaped id that sorts by creation (its first half is the clock in ns): memories
    made in one second keep their order."""
    raw = f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _unit(vec: Any) -> Any:
    import numpy as np

    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec
