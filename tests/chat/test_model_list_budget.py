"""The model list answers within its budget: a connection that accepts and never answers is
listed as pending (from its last known models once it has listed them), the list completes in
the background and a ``models:updated`` event says so."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.polling import eventually
from support.scripted_openai import ScriptedOpenAI

from chat.helpers import frames_until, scripted_settings, services_of
from oui_jupyter.services.models import KNOWN_KEY, ModelService
from oui_jupyter.services.users import UserInfo

ALICE = UserInfo(id="alice", name="alice", display_name="alice", role="admin", groups=())


@pytest.fixture
def held_openai() -> Iterator[ScriptedOpenAI]:
    """A scripted server whose model list waits until ``list_gate`` is set."""
    server = ScriptedOpenAI().start()
    server.list_gate = threading.Event()
    yield server
    server.list_gate.set()
    server.stop()


@pytest.fixture
def oui_extra_config(scripted_openai: Any, held_openai: ScriptedOpenAI) -> dict[str, Any]:
    settings = scripted_settings(
        scripted_openai.base_url,
        models_fetch_timeout=120.0,  # the held fetch outlives the test: only the budget counts
        models_cache_ttl=3600,
        models_list_budget=2.0,  # ample for the scripted server that answers
        local_model_enabled=True,
    )
    settings["openai_api_base_urls"] += [held_openai.base_url]
    settings["openai_api_keys"] += ["sk-held"]
    settings["openai_api_configs"] = {"1": {"prefix_id": "held"}}
    return settings


async def listing(api: Any, **params: Any) -> dict[str, Any]:
    r = await api("GET", "models", params=params or None)
    assert r.code == 200, r.body
    body = r.json()
    return {"pending": body["pending"], "models": {m["id"]: m for m in body["data"]}}


async def kept(jp_serverapp: Any) -> dict[str, Any]:
    """The last good listings as the database has them, once the held connection's is there."""
    store = services_of(jp_serverapp).config_store
    return await eventually(
        lambda: asyncio.to_thread(store.get, KNOWN_KEY),
        until=lambda known: bool(known) and "1" in known,
    )


def updated(frame: dict[str, Any]) -> bool:
    return frame["type"] == "models:updated"


async def complete_listing(api: Any, ws: Any) -> dict[str, Any]:
    """The list once every connection has answered (after ``models:updated`` if need be)."""
    answer = await listing(api)
    if answer["pending"]:
        await frames_until(ws, updated, timeout=30)
        answer = await listing(api)
    assert answer["pending"] == []
    return answer


async def test_a_silent_connection_never_holds_up_the_list(api, ws_connect, held_openai):
    ws = await ws_connect()
    first = await listing(api)
    assert not held_openai.list_gate.is_set()  # answered while the upstream still holds
    assert first["pending"] == ["1"]
    models = first["models"]
    assert models["fast"]["available"] is True and "pending" not in models["fast"]
    assert "smollm2" in models  # the embedded model is always there at once
    assert not [m for m in models.values() if m["connection"] == "1"]  # nothing known yet
    again = await listing(api)  # the round goes on: asked again, the same answer at once
    assert again["pending"] == ["1"] and held_openai.list_requests <= 1

    held_openai.list_gate.set()
    await frames_until(ws, updated, timeout=30)
    done = await listing(api)
    assert done["pending"] == []
    held = done["models"]["held.fast"]
    assert held["available"] is True and held["connection"] == "1" and "pending" not in held
    assert held_openai.list_requests == 1
    ws.close()


async def test_a_connection_that_falls_silent_is_listed_from_its_last_models(
    api, ws_connect, held_openai, jp_serverapp
):
    ws = await ws_connect()
    held_openai.list_gate.set()
    await complete_listing(api, ws)
    known = await kept(jp_serverapp)
    assert {m["id"] for m in known["1"]["models"]} >= {"fast", "slow"}
    assert known["1"]["url"] == held_openai.base_url

    held_openai.list_gate = threading.Event()
    stale = await listing(api, refresh="true")
    assert stale["pending"] == ["1"]
    held = stale["models"]["held.fast"]
    assert held["pending"] is True and held["available"] is True
    assert "unavailable_reason" not in held
    # A chat to it goes on from what it listed last.
    r = await api(
        "POST",
        "chat/completions",
        {"model": "held.fast", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 200 and r.json()["choices"][0]["message"]["content"]

    held_openai.list_gate.set()
    await frames_until(ws, updated, timeout=30)
    assert "pending" not in (await listing(api))["models"]["held.fast"]
    ws.close()


async def test_a_restarted_server_lists_the_last_models_it_kept(
    api, ws_connect, jp_serverapp, held_openai
):
    """The last good listings live in the database: a new ModelService (a restarted server)
    lists a silent connection's models from there."""
    ws = await ws_connect()
    held_openai.list_gate.set()
    await complete_listing(api, ws)
    ws.close()
    await kept(jp_serverapp)
    services = services_of(jp_serverapp)
    old = services.models
    held_openai.list_gate = threading.Event()
    restarted = ModelService(
        base_settings=old.base_settings,
        config_store=services.config_store,
        custom_store=old.custom_store,
        local=None,
        fetch_timeout=120.0,
        list_budget=0.1,
    )
    try:
        answer = await restarted.model_list(ALICE)
        assert "1" in answer["pending"]
        held = {m["id"]: m for m in answer["data"]}["held.fast"]
        assert held["pending"] is True and held["available"] is True
    finally:
        held_openai.list_gate.set()
        await restarted.aclose()


async def test_a_chat_to_a_model_not_listed_yet_waits_for_its_connection(api, held_openai):
    """A model only the silent connection has: resolving it waits for the whole round."""
    assert (await listing(api))["pending"] == ["1"]
    chat = asyncio.ensure_future(
        api(
            "POST",
            "chat/completions",
            {"model": "held.fast", "messages": [{"role": "user", "content": "x"}]},
        )
    )
    done, _ = await asyncio.wait({chat}, timeout=0.5)
    assert not done and not held_openai.requests  # waiting for the list, not failing
    held_openai.list_gate.set()
    r = await chat
    assert r.code == 200, r.body
