"""Chat store figures: append to a 2-message vs a 2,000-message chat, and listing 10,000 chats.

Measured twice: in-process through ChatService, and over HTTP through a real `jupyter server`
(append = Open WebUI's merge-update POST carrying the new message; list = GET v1/chats/?page=1).
Usage: python foundation_store.py [sqlite|postgres URL of an admin database]...
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
import uuid
from typing import Any

from _server import TOKEN, JupyterServer

from oui_jupyter.services.chats import ChatService
from oui_jupyter.store import migrate
from oui_jupyter.store.chats import ChatStore, NewMessage
from oui_jupyter.store.db import Database
from oui_jupyter.store.folders import FolderStore
from oui_jupyter.store.tags import TagStore
from oui_jupyter.store.users import UserStore

USER = "bench"


def fresh_url(kind: str, tmp: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:6]}.db"
    import psycopg

    name = f"oui_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(kind.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return kind.rsplit("/", 1)[0] + "/" + name


def chain(n: int) -> list[NewMessage]:
    messages, parent = [], None
    for i in range(n):
        mid = uuid.uuid4().hex
        messages.append(
            NewMessage(
                id=mid,
                role="user" if i % 2 == 0 else "assistant",
                content="lorem ipsum " * 40,
                parent_id=parent,
            )
        )
        parent = mid
    return messages


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def populate(url: str) -> tuple[ChatService, dict[int, tuple[str, str]]]:
    db = Database(url)
    migrate.upgrade(db.engine)
    UserStore(db).upsert(USER, name=USER, display_name=USER, role="admin", groups=[])
    service = ChatService(ChatStore(db), TagStore(db), FolderStore(db))
    chats = {}
    for size in (2, 2000):
        msgs = chain(size)
        row = service.store.create_chat(
            chat_id=str(uuid.uuid4()),
            user_id=USER,
            title=f"{size}",
            messages=msgs,
            current_message_id=msgs[-1].id,
        )
        chats[size] = (row.id, msgs[-1].id)
    for start in range(0, 10_000, 1000):
        with db.session() as s:
            from oui_jupyter.store.orm import Chat

            now = time.time()
            s.add_all(
                Chat(
                    id=str(uuid.uuid4()),
                    user_id=USER,
                    title=f"chat {start + i}",
                    models=[],
                    params={},
                    meta={},
                    extra={},
                    pinned=False,
                    archived=False,
                    created_at=now,
                    updated_at=now + i * 1e-3,
                )
                for i in range(1000)
            )
    # Fresh planner statistics, as autovacuum (PostgreSQL) keeps them on a live database:
    # without them PostgreSQL guesses 2 rows and sorts all 10,000 instead of reading 60.
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return service, chats


def bench_service(
    service: ChatService, chats: dict[int, tuple[str, str]], n: int = 300
) -> dict[str, Any]:
    out = {}
    for size, (chat_id, leaf) in chats.items():
        times = []
        parent = leaf
        for _ in range(n):
            mid = uuid.uuid4().hex
            t0 = time.perf_counter()
            service.append_messages(
                USER,
                chat_id,
                [NewMessage(id=mid, role="user", content="hello", parent_id=parent)],
                current_message_id=mid,
            )
            times.append(time.perf_counter() - t0)
            parent = mid
        out[size] = (statistics.median(times) * 1000, pct(times, 0.99) * 1000)
        chats[size] = (chat_id, parent)
    list_times = []
    for _ in range(200):
        t0 = time.perf_counter()
        service.list_chats(USER, 1)
        list_times.append(time.perf_counter() - t0)
    out["list"] = (statistics.median(list_times) * 1000, pct(list_times, 0.99) * 1000)
    return out


def bench_http(url: str, chats: dict[int, tuple[str, str]], n: int = 200) -> dict[str, Any]:
    server = JupyterServer(True, [f"--OuiJupyter.database_url={url}"])
    server.start()
    server.wait_until_settled()
    # The server's user is its token's owner; give it the benchmark chats.
    server.get("/oui/api/v1/users/user")
    me = json.loads(server.get("/oui/api/v1/users/user"))["id"]
    db = Database(url)
    with db.session() as s:
        from sqlalchemy import update

        from oui_jupyter.store.orm import Chat

        s.execute(update(Chat).where(Chat.user_id == USER).values(user_id=me))
    db.dispose()
    out: dict[Any, Any] = {}
    try:
        for minimal in (False, True):
            headers = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
            if minimal:
                headers["Prefer"] = "return=minimal"
            for size, (chat_id, leaf) in chats.items():
                times, parent = [], leaf
                for _ in range(n):
                    mid = uuid.uuid4().hex
                    body = json.dumps(
                        {
                            "chat": {
                                "history": {
                                    "messages": {
                                        mid: {
                                            "id": mid,
                                            "parentId": parent,
                                            "role": "user",
                                            "content": "hello",
                                        }
                                    },
                                    "currentId": mid,
                                }
                            }
                        }
                    ).encode()
                    req = urllib.request.Request(
                        f"{server.url}/oui/api/v1/chats/{chat_id}",
                        data=body,
                        method="POST",
                        headers=headers,
                    )
                    t0 = time.perf_counter()
                    with urllib.request.urlopen(req) as r:
                        r.read()
                    times.append(time.perf_counter() - t0)
                    parent = mid
                chats[size] = (chat_id, parent)
                out[(size, minimal)] = (statistics.median(times) * 1000, pct(times, 0.99) * 1000)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            server.get("/oui/api/v1/chats/?page=1")
            times.append(time.perf_counter() - t0)
        out["list"] = (statistics.median(times) * 1000, pct(times, 0.99) * 1000)
    finally:
        server.stop()
    return out


def main() -> None:
    import tempfile

    kinds = sys.argv[1:] or ["sqlite"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            label = "SQLite" if kind == "sqlite" else "PostgreSQL"
            url = fresh_url(kind, tmp)
            service, chats = populate(url)
            svc = bench_service(service, chats)
            service.store.db.dispose()
            print(
                f"[{label}] service append p50/p99 ms: 2 msgs {svc[2][0]:.2f}/{svc[2][1]:.2f}, "
                f"2000 msgs {svc[2000][0]:.2f}/{svc[2000][1]:.2f}, ratio {svc[2000][0] / svc[2][0]:.2f}; "
                f"list 10k first page p50/p99 {svc['list'][0]:.2f}/{svc['list'][1]:.2f} ms"
            )
            http = bench_http(url, chats)
            for minimal, how in (
                (False, "answers the whole chat"),
                (True, "Prefer: return=minimal"),
            ):
                a, b = http[(2, minimal)], http[(2000, minimal)]
                print(
                    f"[{label}] HTTP append (merge-update, {how}) p50/p99 ms: 2 msgs {a[0]:.2f}/{a[1]:.2f}, "
                    f"2000 msgs {b[0]:.2f}/{b[1]:.2f}, ratio {b[0] / a[0]:.2f}"
                )
            print(
                f"[{label}] HTTP list 10k first page p50/p99 {http['list'][0]:.2f}/{http['list'][1]:.2f} ms"
            )


if __name__ == "__main__":
    main()
