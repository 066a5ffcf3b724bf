"""ChatService without HTTP: over a real database, per user, with the errors it raises."""

from __future__ import annotations

from typing import Any

import pytest

from chat.unit import ADMIN, ALICE, BOB, chat_service, open_database
from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.services.chats import ChatService

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL


@pytest.fixture
def chats(oui_database_url: str) -> Any:
    db = open_database(oui_database_url)
    yield chat_service(db)
    db.dispose()


def two_messages() -> dict[str, Any]:
    return {
        "title": "Greeting",
        "models": ["fake"],
        "history": {
            "currentId": "a1",
            "messages": {
                "u1": {"id": "u1", "parentId": None, "role": "user", "content": "Hi"},
                "a1": {"id": "a1", "parentId": "u1", "role": "assistant", "content": "Hello"},
            },
        },
    }


def test_create_read_list_update_delete(chats: ChatService) -> None:
    created = chats.create(ALICE, two_messages())
    assert created.user_id == "alice" and created.title == "Greeting"
    chat = chats.get(ALICE, created.id).chat
    assert chat["history"]["currentId"] == "a1"
    assert [m["content"] for m in chat["messages"]] == ["Hi", "Hello"]
    assert chat["history"]["messages"]["u1"]["childrenIds"] == ["a1"]

    assert [c.id for c in chats.list_chats(ALICE, 1)] == [created.id]
    assert chats.list_chats(BOB, 1) == []

    renamed = chats.set_title(ALICE, created.id, "  Renamed ")
    assert renamed.title == "Renamed"
    pinned = chats.toggle(ALICE, created.id, "pinned")
    assert pinned.pinned is True
    assert [c.id for c in chats.list_chats(ALICE, None, pinned=True)] == [created.id]

    chats.delete(ALICE, created.id)
    with pytest.raises(NotFound):
        chats.get(ALICE, created.id)
    assert chats.list_chats(ALICE, 1) == []


def test_merge_update_adds_and_keeps_messages(chats: ChatService) -> None:
    created = chats.create(ALICE, two_messages())
    update = {
        "history": {
            "currentId": "u2",
            "messages": {
                "u2": {"id": "u2", "parentId": "a1", "role": "user", "content": "And you?"}
            },
        }
    }
    merged = chats.merge_update(ALICE, created.id, update)
    messages = merged.chat["history"]["messages"]
    assert set(messages) == {"u1", "a1", "u2"}  # nothing the update left out is deleted
    assert [m["id"] for m in merged.chat["messages"]] == ["u1", "a1", "u2"]
    assert merged.chat["title"] == "Greeting"


def test_one_user_cannot_reach_another_users_chat(chats: ChatService) -> None:
    created = chats.create(ALICE, two_messages())
    for attempt in (
        lambda: chats.get(BOB, created.id),
        lambda: chats.branch(BOB, created.id),
        lambda: chats.set_title(BOB, created.id, "mine now"),
        lambda: chats.merge_update(BOB, created.id, {"title": "mine now"}),
        lambda: chats.delete(BOB, created.id),
        lambda: chats.add_tag(BOB, created.id, "x"),
        lambda: chats.share(BOB, created.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    # chats are their owner's only, admins included
    with pytest.raises(NotFound):
        chats.get(ADMIN, created.id)
    assert chats.get(ALICE, created.id).title == "Greeting"
    assert chats.delete_all(BOB) == 0
    assert [c.id for c in chats.list_chats(ALICE, 1)] == [created.id]


def test_a_shared_chat_is_readable_by_its_share_id(chats: ChatService) -> None:
    created = chats.create(ALICE, two_messages())
    share_id = chats.share(ALICE, created.id).share_id
    assert share_id is not None
    shared = chats.shared(share_id)
    assert shared is not None and shared.id == created.id
    chats.unshare(ALICE, created.id)
    assert chats.shared(share_id) is None


def test_tags_and_folders_per_user(chats: ChatService) -> None:
    created = chats.create(ALICE, {"title": "t", "tags": ["Work Stuff"]})
    assert [t.id for t in chats.tags(ALICE, created.id)] == ["work_stuff"]
    chats.add_tag(ALICE, created.id, "later")
    assert {t.id for t in chats.all_tags(ALICE)} == {"work_stuff", "later"}
    assert chats.all_tags(BOB) == []
    assert [c.id for c in chats.chats_by_tag(ALICE, "later")] == [created.id]
    with pytest.raises(InvalidInput):
        chats.add_tag(ALICE, created.id, "   ")

    folder = chats.create_folder(ALICE, "Projects", None)
    chats.move_to_folder(ALICE, created.id, folder.id)
    assert [c.id for c in chats.list_chats(ALICE, None, folder_id=folder.id)] == [created.id]
    assert chats.folders(BOB) == []
    with pytest.raises(NotFound):
        chats.folder(BOB, folder.id)


def test_invalid_chat_json_is_invalid_input(chats: ChatService) -> None:
    with pytest.raises(InvalidInput):
        chats.create(ALICE, {"title": 3})
    with pytest.raises(InvalidInput):
        chats.create(ALICE, {"messages": [{"id": "m", "role": "wizard", "content": "x"}]})
    cycle = {
        "history": {
            "messages": {
                "a": {"id": "a", "parentId": "b", "role": "user", "content": ""},
                "b": {"id": "b", "parentId": "a", "role": "user", "content": ""},
            }
        }
    }
    with pytest.raises(InvalidInput):
        chats.create(ALICE, cycle)
    assert chats.list_chats(ALICE, 1) == []


def test_a_message_being_generated_cannot_be_edited(oui_database_url: str) -> None:
    db = open_database(oui_database_url)
    try:
        live = {"a1": {"content": "Hel", "done": False}}
        chats = chat_service(db, overlays=[lambda chat_id: live])
        created = chats.create(ALICE, two_messages())
        assert chats.get(ALICE, created.id).chat["history"]["messages"]["a1"]["content"] == "Hel"
        with pytest.raises(Conflict):
            chats.set_message_content(ALICE, created.id, "a1", "edited")
        edited = chats.set_message_content(ALICE, created.id, "u1", "Hi!")
        assert edited.chat["history"]["messages"]["u1"]["content"] == "Hi!"
    finally:
        db.dispose()
