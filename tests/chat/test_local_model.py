"""The embedded model: started on first use, restarted when it died, and a one-line hint
when the ``oui-jupyter[local]`` extra is missing."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from chat.helpers import services_of
from oui_jupyter.providers import local_llama

pytestmark = pytest.mark.llm

HINT = 'pip install "oui-jupyter[local]"'
ASK = {
    "model": "smollm2",
    "max_tokens": 4,
    "temperature": 0.0,
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    # No connection at all: the embedded model is the only one (local_model_enabled is on by default).
    return {
        "openai_api_base_urls": [],
        "openai_api_keys": [],
        "enable_title_generation": False,
        "enable_tags_generation": False,
    }


@pytest.fixture
def local_server(jp_serverapp: Any) -> Iterator[Any]:
    yield lambda: services_of(jp_serverapp).models.local
    local = services_of(jp_serverapp).models.local
    if local is not None:
        local.stop()


async def test_the_embedded_model_starts_on_first_use_and_restarts(api, local_server, new_chat):
    r = await api("GET", "models")
    assert r.code == 200, r.body
    listed = r.json()["data"]
    assert [m["id"] for m in listed] == ["smollm2"]
    model = listed[0]
    assert model["available"] is True and model["connection"] == "local" and "tiny" in model["name"]
    local = local_server()
    assert local is not None and local.running is False  # listed without being started
    # A chat through it starts it.
    r = await api("POST", "chat/completions", ASK)
    assert r.code == 200, r.body
    assert r.json()["choices"][0]["message"]["content"]
    first_pid = local.pid
    assert first_pid is not None and local.running
    # Kill it: the next chat starts a new one.
    os.kill(first_pid, signal.SIGKILL)
    local._process.wait(10)
    assert not local.running
    chat_id = await new_chat(model="smollm2")
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": "Hello", "params": {"max_tokens": 4}}
    )
    assert r.code == 200, r.body
    assert r.json()["content"] and r.json()["model"] == "smollm2"
    assert local.running and local.pid != first_pid
    # Stopping the services stops it.
    process = local._process
    local.stop()
    assert process.poll() is not None


class TestWithoutTheExtra:
    @pytest.fixture
    def oui_extra_config(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        monkeypatch.setattr(local_llama, "local_model_path", lambda: None)
        return {"openai_api_base_urls": [], "openai_api_keys": []}

    async def test_the_list_and_a_chat_say_how_to_install_it(self, api, new_chat, local_server):
        r = await api("GET", "models")
        assert r.code == 200
        (model,) = r.json()["data"]
        assert model["id"] == "smollm2" and model["available"] is False
        assert HINT in model["unavailable_reason"] and "\n" not in model["unavailable_reason"]
        for stream in (False, True):
            r = await api("POST", "chat/completions", {**ASK, "stream": stream})
            assert r.code == 503, r.body
            assert HINT in r.json()["message"] and "\n" not in r.json()["message"]
        chat_id = await new_chat(model="smollm2")
        r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "Hello"})
        assert r.code == 503 and HINT in r.json()["message"]
        # Any other model name says it too.
        r = await api("POST", "chat/completions", {**ASK, "model": "gpt-4o"})
        assert r.code == 404 and HINT in r.json()["message"] and "gpt-4o" in r.json()["message"]
        assert local_server().running is False
