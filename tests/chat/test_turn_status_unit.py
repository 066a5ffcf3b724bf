"""A turn says what it does before its first token (``status``: searching, reading the sources,
starting the local model), to the chat's sockets and to the SSE stream, and holds the
generation activity (which the index's embedding yields to) from its start to its end."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chat.unit import ALICE, FakeModels, FakeProvider, chat_service, open_database
from oui_jupyter.errors import NotReady
from oui_jupyter.services.activity import GenerationActivity
from oui_jupyter.services.chats import ChatService
from oui_jupyter.services.completions import CompletionService, TurnOptions
from oui_jupyter.services.events import EventHub
from oui_jupyter.services.tasks import TaskRegistry
from oui_jupyter.store.turns import TurnStore

pytestmark = pytest.mark.storage

SOURCES = [{"id": 1, "path": "a.md"}, {"id": 2, "path": "b.md"}, {"id": 3, "path": "c.md"}]


@dataclass
class Rig:
    chats: ChatService
    completions: CompletionService
    activity: GenerationActivity
    models: FakeModels
    # (what, payload): socket frames ("frame", (type, data, ids)), SSE status chunks ("sse",
    # chunk) and the answer's deltas ("delta", text), in the order they were sent
    log: list[tuple[str, Any]] = field(default_factory=list)
    busy_during_retrieval: list[bool] = field(default_factory=list)
    # the ``budget`` each retrieval was given (None: the retrieval's own)
    budgets: list[int | None] = field(default_factory=list)
    fail_retrieval: bool = False

    def new_chat(self) -> str:
        return self.chats.create(ALICE, {"title": "New Chat", "models": ["fake"]}).id

    def statuses(self) -> list[tuple[str, bool]]:
        return [
            (data["description"], data["done"])
            for what, (type_, data, _) in ((w, p) for w, p in self.log if w == "frame")
            if type_ == "status"
        ]

    def sse_statuses(self) -> list[tuple[str, bool]]:
        return [
            (c["status"]["description"], c["status"]["done"]) for w, c in self.log if w == "sse"
        ]


class RecordingHub(EventHub):
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.log = log

    def emit(self, user_id: str, type_: str, data: Any, **ids: Any) -> None:
        self.log.append(("frame", (type_, data, ids)))

    def delta(self, user_id: str, chat_id: str, message_id: str, delta: str, offset: int) -> None:
        self.log.append(("delta", delta))


@pytest.fixture
def rig(oui_database_url: str) -> Iterator[Rig]:
    db = open_database(oui_database_url)
    log: list[tuple[str, Any]] = []
    registry = TaskRegistry()
    hub = RecordingHub(log)
    chats = chat_service(db, overlays=[registry.overlay], hub=hub)
    activity = GenerationActivity(settle=0)
    models = FakeModels(FakeProvider("Hello there"))
    holder: dict[str, Rig] = {}

    def context_builder(
        query: str, files: Any, features: Any, user: Any, *, budget: int | None = None
    ) -> tuple[str, list]:
        r = holder["rig"]
        r.busy_during_retrieval.append(activity.busy)
        r.budgets.append(budget)
        if r.fail_retrieval:
            raise NotReady("the retrieval index is still opening")
        return f"<sources>\n{query}", SOURCES

    completions = CompletionService(
        models=models,  # type: ignore[arg-type]
        chats=chats,
        turns=TurnStore(db),
        hub=hub,
        registry=registry,
        context_builder=context_builder,
        activity=activity,
        local_context_chars=LOCAL_CONTEXT_CHARS,
    )
    holder["rig"] = Rig(chats, completions, activity, models, log)
    yield holder["rig"]
    db.dispose()


WORKSPACE = {"workspace": True}
LOCAL_CONTEXT_CHARS = 1200


async def test_a_workspace_turn_says_what_it_does_before_the_first_token(rig: Rig) -> None:
    chat_id = rig.new_chat()
    options = TurnOptions(features=WORKSPACE, status_sink=lambda c: rig.log.append(("sse", c)))
    generation = await rig.completions.from_message(ALICE, chat_id, "Hi", None, options)
    await generation.run()
    assert generation.text() == "Hello there"
    said = [("Searching the workspace…", False), ("Reading 3 sources…", False)]
    assert rig.statuses() == [*said, ("Reading 3 sources…", True)]
    assert rig.sse_statuses() == rig.statuses()
    # every status comes before the first token, the done one right before it
    kinds = [what for what, _ in rig.log if what in ("sse", "delta")]
    assert kinds == ["sse", "sse", "sse", "delta", "delta"]
    first_delta = next(i for i, (what, _) in enumerate(rig.log) if what == "delta")
    status_frames = [i for i, (w, p) in enumerate(rig.log) if w == "frame" and p[0] == "status"]
    assert max(status_frames) < first_delta
    # the frames name the chat and the answer
    ids = next(p[2] for w, p in rig.log if w == "frame" and p[0] == "status")
    assert ids == {"chat_id": chat_id, "message_id": generation.message_id}
    sse = next(c for w, c in rig.log if w == "sse")
    assert sse["choices"] == [] and sse["object"] == "chat.completion.chunk"


async def test_a_turn_without_retrieval_or_a_local_model_says_nothing(rig: Rig) -> None:
    chat_id = rig.new_chat()
    generation = await rig.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await generation.run()
    assert generation.text() == "Hello there" and rig.statuses() == []


async def test_a_turn_holds_the_activity_from_retrieval_to_its_end(rig: Rig) -> None:
    chat_id = rig.new_chat()
    generation = await rig.completions.from_message(
        ALICE, chat_id, "Hi", None, TurnOptions(features=WORKSPACE)
    )
    assert rig.busy_during_retrieval == [True]
    assert rig.activity.running == 1  # built, not yet run: still held
    await generation.run()
    assert rig.activity.running == 0


async def test_a_failed_or_dropped_turn_releases_its_hold(rig: Rig) -> None:
    chat_id = rig.new_chat()
    rig.fail_retrieval = True
    with pytest.raises(NotReady):
        await rig.completions.from_message(
            ALICE, chat_id, "Hi", None, TurnOptions(features=WORKSPACE)
        )
    assert rig.activity.running == 0
    assert rig.statuses() == [
        ("Searching the workspace…", False),
        ("Searching the workspace…", True),
    ]
    rig.fail_retrieval = False
    generation = await rig.completions.from_openai(
        ALICE, "fake", [{"role": "user", "content": "Hi"}], TurnOptions()
    )
    assert rig.activity.running == 1
    del generation  # never run (a handler failed after building it)
    gc.collect()
    assert rig.activity.running == 0


class LocalServer:
    def __init__(self) -> None:
        self.running = False


class LocalProvider(FakeProvider):
    """The embedded model's provider: its server starts on the first ``client()``."""

    label = "embedded llama.cpp"

    def __init__(self, server: LocalServer) -> None:
        super().__init__("Hello there")
        self.server = server
        self.connection = type("Connection", (), {"local": True})()

    async def client(self) -> None:
        self.server.running = True


async def test_a_cold_local_model_says_it_is_starting(rig: Rig) -> None:
    server = LocalServer()
    rig.models.provider = LocalProvider(server)
    rig.models.local = server  # type: ignore[attr-defined]
    chat_id = rig.new_chat()
    generation = await rig.completions.from_message(
        ALICE, chat_id, "Hi", None, TurnOptions(features=WORKSPACE)
    )
    await generation.run()
    assert server.running and generation.text() == "Hello there"
    assert rig.statuses() == [
        ("Searching the workspace…", False),
        ("Reading 3 sources…", False),
        ("Starting the local model…", False),
        ("Reading 3 sources…", False),
        ("Reading 3 sources…", True),
    ]
    # warm: nothing to say about it
    rig.log.clear()
    again = await rig.completions.from_message(ALICE, chat_id, "Hi", None, TurnOptions())
    await again.run()
    assert rig.statuses() == []


async def test_the_embedded_model_reads_fewer_sources(rig: Rig) -> None:
    """Its prompt is read on this machine's CPU: its turns get the local budget, other
    models' turns the retrieval's own."""
    chat_id = rig.new_chat()
    other = await rig.completions.from_message(
        ALICE, chat_id, "Hi", None, TurnOptions(features=WORKSPACE)
    )
    await other.run()
    rig.models.provider = LocalProvider(LocalServer())
    local = await rig.completions.from_message(
        ALICE, chat_id, "Hi", None, TurnOptions(features=WORKSPACE)
    )
    await local.run()
    assert rig.budgets == [None, LOCAL_CONTEXT_CHARS]
