"""The model list (unreachable and slow connections, cache), custom models, connection settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from support.scripted_openai import ScriptedOpenAI

from chat.helpers import SECRET_KEY, scripted_settings, services_of
from oui_jupyter.providers.local_llama import free_port

MODELS_LOG = "oui_jupyter.services.models"


@pytest.fixture
def slow_openai() -> Iterator[ScriptedOpenAI]:
    """A second scripted server whose model list never comes in time."""
    server = ScriptedOpenAI().start()
    server.list_delay = 3600
    yield server
    server.stop()


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
def oui_extra_config(
    scripted_openai: Any, slow_openai: ScriptedOpenAI, closed_port_url: str
) -> dict[str, Any]:
    settings = scripted_settings(
        scripted_openai.base_url,
        models_fetch_timeout=0.5,
        models_cache_ttl=3600,
        models_list_budget=30.0,  # every connection answers or times out within it
        admin_users={"alice"},
        default_model_params={"temperature": 0.9, "top_p": 0.5, "max_tokens": 100},
    )
    settings["openai_api_base_urls"] += [closed_port_url, slow_openai.base_url]
    settings["openai_api_keys"] += ["", "sk-slow-secret-key-0000"]
    settings["openai_api_configs"] = {
        "1": {"model_ids": ["ghost"], "name": "refusing"},
        "2": {"prefix_id": "slow", "model_ids": ["fast"], "tags": ["remote"]},
    }
    return settings


async def models(api: Any, user: str = "alice", **params: Any) -> dict[str, dict[str, Any]]:
    r = await api("GET", "models", user=user, params=params or None)
    assert r.code == 200, r.body
    return {m["id"]: m for m in r.json()["data"]}


async def test_unreachable_and_slow_connections_never_fail_the_list(api, scripted_openai, caplog):
    caplog.set_level(logging.WARNING, logger=MODELS_LOG)
    listed = await models(api)
    assert listed["fast"]["available"] is True and listed["fast"]["connection"] == "0"
    assert listed["fast"]["object"] == "model" and listed["fast"]["owned_by"] == "scripted"
    assert set(listed) >= {"fast", "slow", "cut", "ghost", "slow.fast"}
    ghost = listed["ghost"]
    assert ghost["available"] is False and ghost["connection"] == "1"
    assert "Cannot reach" in ghost["unavailable_reason"]
    slow = listed["slow.fast"]
    assert (
        slow["available"] is False
        and slow["connection"] == "2"
        and slow["tags"] == [{"name": "remote"}]
    )
    assert "in time" in slow["unavailable_reason"]
    assert "smollm2" not in listed  # the embedded model is off here
    # Each failure is reported once in the log, not at every refresh.
    await models(api, refresh="true")
    await models(api, refresh="true")
    warnings = [r.getMessage() for r in caplog.records if r.name == MODELS_LOG]
    assert sum("refusing" in w for w in warnings) == 1
    assert sum("unavailable" in w and "refusing" not in w for w in warnings) == 1
    assert SECRET_KEY not in caplog.text and "sk-slow-secret" not in caplog.text
    # A chat with an unavailable model is a clear upstream error, not a hang.
    r = await api(
        "POST",
        "chat/completions",
        {"model": "ghost", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 502


async def test_the_list_is_cached_for_the_ttl(api, scripted_openai, jp_serverapp):
    await models(api)
    first = scripted_openai.list_requests
    assert first >= 1
    for _ in range(3):
        await models(api)
    assert scripted_openai.list_requests == first  # served from the cache
    await models(api, refresh="true")
    assert scripted_openai.list_requests == first + 1
    services_of(jp_serverapp).models.cache_ttl = 0.0
    await models(api)
    await models(api)
    assert scripted_openai.list_requests == first + 3


async def test_a_connection_that_turns_slow_keeps_its_last_list(api, scripted_openai):
    """Slow is not down (a one-slot llama.cpp busy generating): what it listed stays usable;
    a connection that refuses is marked unavailable at once."""
    assert (await models(api))["fast"]["available"] is True
    scripted_openai.list_delay = 3600
    listed = await models(api, refresh="true")
    assert listed["fast"]["available"] is True and "unavailable_reason" not in listed["fast"]
    r = await api(
        "POST",
        "chat/completions",
        {"model": "fast", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 200 and r.json()["choices"][0]["message"]["content"]
    scripted_openai.list_delay = 0
    scripted_openai.list_status = 503
    listed = await models(api, refresh="true")
    assert listed["fast"]["available"] is False and listed["fast"]["unavailable_reason"]


async def test_custom_models_crud_and_their_prompt_and_params(api, scripted_openai):
    form = {
        "id": "pirate",
        "name": "Pirate",
        "base_model_id": "fast",
        "params": {"system": "You are a pirate.", "temperature": 0.3, "max_tokens": 7, "bogus": 1},
        "meta": {"description": "Talks like a pirate", "tags": [{"name": "fun"}]},
    }
    r = await api("POST", "v1/models/create", form)
    assert r.code == 200, r.body
    created = r.json()
    assert (
        created["id"] == "pirate"
        and created["user_id"] == "alice"
        and created["base_model_id"] == "fast"
    )
    assert created["params"]["system"] == "You are a pirate." and created["is_active"] is True
    assert (await api("POST", "v1/models/create", form)).code == 409
    assert (await api("POST", "v1/models/create", {**form, "id": "fast"})).code == 422
    assert (await api("POST", "v1/models/create", {**form, "id": "has space"})).code == 422
    assert (await api("POST", "v1/models/create", {"id": "x"})).code == 422
    # Listed with the others, in both lists.
    listed = await models(api)
    assert listed["pirate"]["connection_type"] == "custom" and listed["pirate"]["available"] is True
    assert listed["pirate"]["name"] == "Pirate" and listed["pirate"]["info"]["meta"]["description"]
    assert [m["id"] for m in (await api("GET", "v1/models/")).json()] == ["pirate"]
    assert (await api("GET", "v1/models/model", params={"id": "pirate"})).json()["name"] == "Pirate"
    # Its system prompt and params apply: defaults < model < request.
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "pirate",
            "max_tokens": 5,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Ahoy"},
            ],
        },
    )
    assert r.code == 200, r.body
    assert r.json()["model"] == "pirate"
    sent = scripted_openai.requests[-1]
    assert sent["model"] == "fast"
    assert sent["messages"][0] == {"role": "system", "content": "You are a pirate.\n\nBe brief."}
    assert sent["messages"][-1] == {"role": "user", "content": "Ahoy"}
    assert sent["temperature"] == 0.3 and sent["top_p"] == 0.5 and sent["max_tokens"] == 5
    assert "bogus" not in sent and "system" not in sent
    # Without a system message of the request's own, the model's comes first.
    r = await api(
        "POST",
        "chat/completions",
        {"model": "pirate", "stream": True, "messages": [{"role": "user", "content": "Ahoy"}]},
    )
    assert r.code == 200
    sent = scripted_openai.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You are a pirate."}
    assert sent["max_tokens"] == 7 and sent["stream"] is True
    # A plain model gets the defaults only.
    await api(
        "POST",
        "chat/completions",
        {"model": "fast", "messages": [{"role": "user", "content": "x"}]},
    )
    sent = scripted_openai.requests[-1]
    assert (
        sent["temperature"] == 0.9
        and sent["max_tokens"] == 100
        and sent["messages"][0]["role"] == "user"
    )
    # Update, and another user's rights.
    r = await api(
        "POST", "v1/models/model/update", {**form, "name": "Captain"}, params={"id": "pirate"}
    )
    assert r.code == 200 and r.json()["name"] == "Captain"
    assert (await models(api))["pirate"]["name"] == "Captain"
    assert "pirate" in await models(
        api, user="bob"
    )  # access_control null: public, as in Open WebUI
    r = await api(
        "POST",
        "v1/models/model/update",
        {**form, "name": "Bob's"},
        params={"id": "pirate"},
        user="bob",
    )
    assert r.code == 403
    assert (
        await api("DELETE", "v1/models/model/delete", params={"id": "pirate"}, user="bob")
    ).code == 403
    # Toggle off: gone from the list and not usable.
    r = await api("POST", "v1/models/model/toggle", params={"id": "pirate"})
    assert r.code == 200 and r.json()["is_active"] is False
    assert "pirate" not in await models(api)
    r = await api(
        "POST",
        "chat/completions",
        {"model": "pirate", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 404
    await api("POST", "v1/models/model/toggle", params={"id": "pirate"})
    # Delete.
    assert (await api("DELETE", "v1/models/model/delete", params={"id": "pirate"})).code == 200
    assert "pirate" not in await models(api)
    assert (await api("GET", "v1/models/model", params={"id": "pirate"})).code == 404


async def test_a_private_custom_model_is_only_its_owners(api):
    form = {"id": "mine", "name": "Mine", "base_model_id": "fast", "access_control": {}}
    assert (await api("POST", "v1/models/create", form)).code == 200
    assert "mine" in await models(api)
    assert "mine" not in await models(api, user="bob")
    assert (await api("GET", "v1/models/model", params={"id": "mine"}, user="bob")).code == 404
    assert [m["id"] for m in (await api("GET", "v1/models/", user="bob")).json()] == []
    r = await api(
        "POST",
        "chat/completions",
        {"model": "mine", "messages": [{"role": "user", "content": "x"}]},
        user="bob",
    )
    assert r.code == 404


async def test_a_custom_model_on_a_missing_base_is_listed_unavailable(api):
    form = {"id": "orphan", "name": "Orphan", "base_model_id": "no-such-base"}
    assert (await api("POST", "v1/models/create", form)).code == 200
    listed = await models(api)
    assert (
        listed["orphan"]["available"] is False
        and "no-such-base" in listed["orphan"]["unavailable_reason"]
    )
    r = await api(
        "POST",
        "chat/completions",
        {"model": "orphan", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 404 and "no-such-base" in r.json()["message"]


async def test_connection_settings_are_admin_only_and_keys_are_redacted(
    api, scripted_openai, caplog
):
    caplog.set_level(logging.DEBUG)
    assert (await api("GET", "v1/openai/config", user="bob")).code == 403
    r = await api(
        "POST",
        "v1/openai/config/update",
        {"OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": []},
        user="bob",
    )
    assert r.code == 403
    assert "ghost" in await models(api)  # bob changed nothing
    r = await api("GET", "v1/openai/config")
    assert r.code == 200
    config = r.json()
    assert SECRET_KEY not in r.body.decode() and "sk-slow-secret" not in r.body.decode()
    assert config["OPENAI_API_BASE_URLS"][0] == scripted_openai.base_url
    redacted = config["OPENAI_API_KEYS"][0]
    assert redacted != SECRET_KEY and "…" in redacted
    # Send it back redacted (as the admin form does), with a prefix: the stored key is kept.
    config["OPENAI_API_BASE_URLS"] = config["OPENAI_API_BASE_URLS"][:1]
    config["OPENAI_API_KEYS"] = config["OPENAI_API_KEYS"][:1]
    config["OPENAI_API_CONFIGS"] = {"0": {"prefix_id": "sc"}}
    r = await api("POST", "v1/openai/config/update", config)
    assert r.code == 200, r.body
    assert SECRET_KEY not in r.body.decode() and r.json()["OPENAI_API_KEYS"] == [redacted]
    listed = await models(api)
    assert "sc.fast" in listed and "fast" not in listed and "ghost" not in listed
    r = await api(
        "POST",
        "chat/completions",
        {"model": "sc.fast", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.code == 200, r.body
    assert scripted_openai.requests[-1]["model"] == "fast"
    assert scripted_openai.headers[-1]["authorization"] == f"Bearer {SECRET_KEY}"
    # A new key replaces it.
    config["OPENAI_API_KEYS"] = ["sk-brand-new-key-9876543210"]
    assert (await api("POST", "v1/openai/config/update", config)).code == 200
    await api(
        "POST",
        "chat/completions",
        {"model": "sc.fast", "messages": [{"role": "user", "content": "x"}]},
    )
    assert scripted_openai.headers[-1]["authorization"] == "Bearer sk-brand-new-key-9876543210"
    # Invalid settings are refused.
    bad = {"OPENAI_API_BASE_URLS": ["ftp://x"], "OPENAI_API_KEYS": [""]}
    assert (await api("POST", "v1/openai/config/update", bad)).code == 422
    assert (await api("POST", "v1/openai/config/update", {"OPENAI_API_BASE_URLS": "x"})).code == 422
    assert SECRET_KEY not in caplog.text and "sk-brand-new-key" not in caplog.text


async def test_settings_survive_a_restart_of_the_services(api, jp_serverapp):
    """Stored in the database: a new ModelService reads them back."""
    config = (await api("GET", "v1/openai/config")).json()
    config["OPENAI_API_CONFIGS"] = {"0": {"prefix_id": "kept"}}
    assert (await api("POST", "v1/openai/config/update", config)).code == 200
    models_service = services_of(jp_serverapp).models
    models_service._settings = None  # forget the cached settings: read them from the database
    models_service._listing = None
    assert "kept.fast" in await models(api)
