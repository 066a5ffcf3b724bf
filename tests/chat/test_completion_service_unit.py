"""CompletionService without HTTP: a turn over a real database and a fake upstream saves the
user message and the answer; regenerate adds a sibling answer, continue extends one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chat.unit import ALICE, BOB, FakeModels, FakeProvider, chat_service, open_database
from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.services.chats import ChatService
from oui_jupyter.services.completions import CompletionService, TurnOptions
from oui_jupyter.services.events import EventHub
from oui_jupyter.services.tasks import TaskRegistry
from oui_jupyter.services.users import UserInfo
from oui_jupyter.store.turns import TurnStore

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL


@dataclass
class Turns:
    chats: ChatService
    completions: CompletionService
    provider: FakeProvider

    def messages(self, user: UserInfo, chat_id: str) -> dict[str, dict[str, Any]]:
        return self.chats.get(user, chat_id).chat["history"]["messages"]

    def new_chat(self) -> str:
        return self.chats.create(ALICE, {"title": "New Chat", "models": ["fake"]}).id


@pytest.fixture
def turns(oui_database_url: str) -> Iterator[Turns]:
    db = open_database(oui_database_url)
    registry = TaskRegistry()
    hub = EventHub()
    chats = chat_service(db, overlays=[registry.overlay], hub=hub)
    provider = FakeProvider("Hello there")
    completions = CompletionService(
        models=FakeModels(provider),  # type: ignore[arg-type]
        chats=chats,
        turns=TurnStore(db),
        hub=hub,
        registry=registry,
    )
    yield Turns(chats, completions, provider)
    db.dispose()


async def test_a_turn_appends_the_user_message_and_the_answer(turns: Turns) -> None:
    chat_id = turns.new_chat()
    generation = await turns.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await generation.run()
    assert generation.error is None and generation.text() == "Hello there"

    messages = turns.messages(ALICE, chat_id)
    user = messages[generation.user_message_id]  # type: ignore[index]
    answer = messages[generation.message_id]  # type: ignore[index]
    assert (user["role"], user["content"], user["parentId"]) == ("user", "Hi", None)
    assert (answer["role"], answer["content"]) == ("assistant", "Hello there")
    assert answer["parentId"] == user["id"] and answer["done"] is True
    assert answer["model"] == "fake"
    chat = turns.chats.get(ALICE, chat_id).chat
    assert chat["history"]["currentId"] == answer["id"]
    # the upstream got the chat's branch, the new user message last
    assert turns.provider.bodies[-1]["messages"][-1] == {"role": "user", "content": "Hi"}


async def test_the_next_turn_sends_the_branch(turns: Turns) -> None:
    chat_id = turns.new_chat()
    first = await turns.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await first.run()
    second = await turns.completions.from_message(ALICE, chat_id, "And then?", None, TurnOptions())
    await second.run()
    sent = [(m["role"], m["content"]) for m in turns.provider.bodies[-1]["messages"]]
    assert sent == [("user", "Hi"), ("assistant", "Hello there"), ("user", "And then?")]
    assert turns.messages(ALICE, chat_id)[second.user_message_id]["parentId"] == first.message_id  # type: ignore[index]


async def test_chat_completions_in_a_chat_saves_the_turn(turns: Turns) -> None:
    chat_id = turns.new_chat()
    options = TurnOptions(chat_id=chat_id, parent_id=None)
    generation = await turns.completions.from_openai(
        ALICE, "fake", [{"role": "user", "content": "Hi"}], options
    )
    await generation.run()
    completion = generation.completion()
    assert completion["choices"][0]["message"]["content"] == "Hello there"
    assert completion["chat_id"] == chat_id
    assert len(turns.messages(ALICE, chat_id)) == 2


async def test_regenerate_adds_a_sibling_answer(turns: Turns) -> None:
    chat_id = turns.new_chat()
    first = await turns.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await first.run()
    turns.provider.reply = "Hi again"
    options = TurnOptions(chat_id=chat_id, regenerate=True, parent_id=first.user_message_id)
    again = await turns.completions.from_openai(ALICE, "fake", [], options)
    await again.run()

    messages = turns.messages(ALICE, chat_id)
    assert len(messages) == 3  # no new user message
    user = messages[first.user_message_id]  # type: ignore[index]
    assert user["childrenIds"] == [first.message_id, again.message_id]
    assert messages[first.message_id]["content"] == "Hello there"  # type: ignore[index]
    assert messages[again.message_id]["content"] == "Hi again"  # type: ignore[index]
    assert turns.chats.get(ALICE, chat_id).chat["history"]["currentId"] == again.message_id
    # the model was asked the user message again, not shown the first answer
    sent = [(m["role"], m["content"]) for m in turns.provider.bodies[-1]["messages"]]
    assert sent == [("user", "Hi")]


async def test_continue_extends_the_same_answer(turns: Turns) -> None:
    chat_id = turns.new_chat()
    first = await turns.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await first.run()
    turns.provider.reply = "and more"
    options = TurnOptions(chat_id=chat_id, continue_=True, parent_id=first.message_id)
    more = await turns.completions.from_openai(ALICE, "fake", [], options)
    await more.run()

    assert more.message_id == first.message_id
    messages = turns.messages(ALICE, chat_id)
    assert len(messages) == 2
    assert messages[first.message_id]["content"] == "Hello thereand more"  # type: ignore[index]
    assert messages[first.message_id]["done"] is True  # type: ignore[index]


async def test_turn_errors_are_domain_errors(turns: Turns) -> None:
    chat_id = turns.new_chat()
    first = await turns.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await first.run()
    completions = turns.completions

    with pytest.raises(NotFound):  # another user's chat
        await completions.from_message(BOB, chat_id, "Hi", None, TurnOptions())
    with pytest.raises(NotFound):  # an unknown model
        await completions.from_message(ALICE, chat_id, "Hi", "no-such-model", TurnOptions())
    with pytest.raises(InvalidInput):  # regenerate answers a user message
        await completions.from_openai(
            ALICE,
            "fake",
            [],
            TurnOptions(chat_id=chat_id, regenerate=True, parent_id=first.message_id),
        )
    with pytest.raises(InvalidInput):  # continue extends an assistant message
        await completions.from_openai(
            ALICE,
            "fake",
            [],
            TurnOptions(chat_id=chat_id, continue_=True, parent_id=first.user_message_id),
        )
    with pytest.raises(NotFound):  # regenerate of a message that is not there
        await completions.from_openai(
            ALICE, "fake", [], TurnOptions(chat_id=chat_id, regenerate=True, parent_id="nope")
        )
    with pytest.raises(InvalidInput):  # regenerate and continue need a chat
        await completions.from_openai(
            ALICE, "fake", [{"role": "user", "content": "Hi"}], TurnOptions(regenerate=True)
        )
    with pytest.raises(Conflict):  # an answer id already used in the chat
        await completions.from_message(
            ALICE, chat_id, "Hi", None, TurnOptions(message_id=first.message_id)
        )
    with pytest.raises(InvalidInput):  # outside a chat, messages are required
        await completions.from_openai(ALICE, "fake", [], TurnOptions())
    assert len(turns.messages(ALICE, chat_id)) == 2  # none of these wrote anything


async def test_a_turn_outside_a_chat_saves_nothing(turns: Turns) -> None:
    generation = await turns.completions.from_openai(
        ALICE, "fake", [{"role": "user", "content": "Hi"}], TurnOptions()
    )
    await generation.run()
    assert generation.text() == "Hello there" and not generation.persisted
    direct = await turns.completions.complete_direct(
        ALICE, "fake", [{"role": "user", "content": "Hi"}], TurnOptions()
    )
    assert direct["model"] == "fake"
    assert direct["choices"][0]["message"]["content"] == "Hello there"
    assert turns.chats.list_chats(ALICE, 1) == []
