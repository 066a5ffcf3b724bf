"""Helpers of the team tests (access control, sharing, usage): a scripted upstream as the
team's connection, uploads, turns and the usage rows as the database holds them."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

SECRET_KEY = "sk-team-secret-0123456789abcdef"


def team_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    """``OuiJupyter`` settings: the scripted server as the only connection, no background
    titles, no workspace index (the team tests search uploads only)."""
    return {
        "openai_api_base_urls": [base_url],
        "openai_api_keys": [SECRET_KEY],
        "local_model_enabled": False,
        "enable_title_generation": False,
        "enable_tags_generation": False,
        "completion_timeout": 5.0,
        "stream_batch_ms": 10.0,
        "index_workspace": False,
        **extra,
    }


def multipart(filename: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def upload(api: Any, user: str, filename: str, text: str) -> str:
    """Upload a text file as ``user`` and wait until it is indexed; returns its id."""
    body, headers = multipart(filename, text.encode())
    r = await api("POST", "v1/files/", raw=body, headers=headers, user=user)
    assert r.code == 200, r.body
    file_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        status = (await api("GET", f"v1/files/{file_id}/process/status", user=user)).json()
        if status["status"] != "pending":
            break
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)
    assert status["status"] == "completed", status
    return file_id


async def new_chat(api: Any, user: str, model: str = "fast") -> str:
    r = await api(
        "POST", "v1/chats/new", {"chat": {"title": "Team chat", "models": [model]}}, user=user
    )
    assert r.code == 200, r.body
    return str(r.json()["id"])


def ask(model: str, text: str = "hello", **extra: Any) -> dict[str, Any]:
    """A ``chat/completions`` body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def usage_rows(jp_serverapp: Any) -> list[dict[str, Any]]:
    """Every usage row, oldest first, as the database holds it."""
    from sqlalchemy import select

    from oui_jupyter.store.orm import Usage

    services = jp_serverapp.web_app.settings["oui_runtime"].services
    assert services is not None
    with services.db.reader() as session:
        rows = session.scalars(select(Usage).order_by(Usage.id)).all()
        return [
            {
                "user_id": r.user_id,
                "model": r.model,
                "chat_id": r.chat_id,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "estimated": r.estimated,
                "created_at": r.created_at,
            }
            for r in rows
        ]


async def usage_rows_when(jp_serverapp: Any, count: int, timeout: float = 20.0) -> list[dict]:
    """The usage rows once there are ``count`` of them (each is written after its turn)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await asyncio.to_thread(usage_rows, jp_serverapp)
        if len(rows) >= count:
            return rows
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.05)
