import pytest

pytestmark = pytest.mark.storage


async def test_version_and_new_chat(api):
    r = await api("GET", "version")
    assert r.code == 200 and r.json()["version"]
    r = await api("POST", "v1/chats/new", {"chat": {"title": "Hello", "models": ["smollm2"]}})
    assert r.code == 200, r.body
    chat = r.json()
    assert chat["title"] == "Hello" and chat["user_id"] == "alice"
    r = await api("GET", f"v1/chats/{chat['id']}", user="bob")
    assert r.code == 404
