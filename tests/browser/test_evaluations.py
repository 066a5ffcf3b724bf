"""Ratings and the arena in the sidebar, against a real lab server whose models are the
scripted upstream's ``fast`` and ``slow``: thumbs then the 1-10 form on an answer, the arena's
two answers side by side as "Model A" / "Model B" until rated, and the leaderboard table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import (
    LabServer,
    open_lab,
    open_sidebar,
    running_lab,
    screenshot,
    scripted_lab_config,
)

ANSWERS = ".jp-OuiMessage[data-role='assistant']"


@pytest.fixture(scope="module")
def arena_lab(
    tmp_path_factory: pytest.TempPathFactory, scripted_openai_server: Any
) -> Iterator[LabServer]:
    config = scripted_lab_config(
        scripted_openai_server.base_url,
        openai_api_configs={"0": {"model_ids": ["fast", "slow"]}},
        enable_evaluation_arena_models=True,
    )
    with running_lab(
        tmp_path_factory.mktemp("arena-lab"), config, log_name="jupyter-arena.log"
    ) as server:
        yield server


@pytest.fixture
def page(browser: Any, arena_lab: LabServer) -> Iterator[Any]:
    page = open_lab(browser, arena_lab)
    try:
        yield page
    finally:
        page.context.close()


def ask(page: Any, model: str, text: str) -> Any:
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    picker = sidebar.get_by_role("combobox", name="Model")
    picker.locator(f"option[value='{model}']").wait_for(state="attached")
    picker.select_option(model)
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    return sidebar


def wait_answered(sidebar: Any, count: int) -> None:
    sidebar.locator(ANSWERS).nth(count - 1).wait_for()
    sidebar.locator(f"{ANSWERS}.jp-mod-streaming").first.wait_for(state="detached")
    sidebar.get_by_role("button", name="Send message").wait_for(state="visible")


def test_rate_an_answer_then_read_the_leaderboard(page: Any, arena_lab: LabServer) -> None:
    sidebar = ask(page, "fast", "Rate me")
    wait_answered(sidebar, 1)
    answer = sidebar.locator(ANSWERS).first
    answer.hover()
    answer.get_by_role("button", name="Good answer").click()
    form = answer.get_by_role("form", name="Rating details")
    form.wait_for()
    form.get_by_role("button", name="8 out of 10").click()
    form.get_by_label("Comment").fill("Clear <b>and</b> short")
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="detached")
    assert answer.get_by_role("button", name="Good answer").get_attribute("aria-pressed") == "true"
    answer.locator(".jp-OuiRating-summary", has_text="8/10").wait_for()
    [feedback] = arena_lab.api("GET", "oui/api/v1/evaluations/feedbacks/user")
    assert feedback["data"]["rating"] == 1 and feedback["data"]["model_id"] == "fast"
    assert feedback["data"]["details"] == {"rating": 8}
    assert feedback["data"]["comment"] == "Clear <b>and</b> short"
    chat = arena_lab.api("GET", f"oui/api/v1/chats/{feedback['meta']['chat_id']}")
    message = chat["chat"]["history"]["messages"][feedback["meta"]["message_id"]]
    assert message["annotation"]["details"] == {"rating": 8}
    screenshot(page, "rating-saved", sidebar)

    sidebar.get_by_role("button", name="Back to the chat list").click()
    sidebar.get_by_role("button", name="Leaderboard").click()
    row = sidebar.locator(".jp-OuiLeaderboard-table tr[data-model-id='fast']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1:] == ["fast", "1000.0", "1", "0", "100.0%"]
    screenshot(page, "leaderboard", sidebar)


def test_the_arena_hides_the_models_until_rated(page: Any, arena_lab: LabServer) -> None:
    sidebar = ask(page, "arena-model", "Who answers better?")
    arena = sidebar.locator(".jp-OuiArena")
    arena.wait_for()
    wait_answered(sidebar, 2)
    answers = arena.locator(ANSWERS)
    assert answers.count() == 2
    labels = answers.locator(".jp-OuiMessage-role").all_inner_texts()
    assert labels == ["Model A", "Model B"]
    assert not re.search(r"\b(fast|slow)\b", arena.inner_text())
    assert answers.get_by_role("button", name="Regenerate answer").count() == 0
    screenshot(page, "arena-unnamed", sidebar)

    first = answers.nth(0)
    first.hover()
    first.get_by_role("button", name="Good answer").click()
    answers.nth(1).locator(
        ".jp-OuiMessage-role", has_text=re.compile(r"Model B: (fast|slow)")
    ).wait_for()
    revealed = answers.locator(".jp-OuiMessage-role").all_inner_texts()
    winner, loser = (label.split(": ")[1] for label in revealed)
    assert {winner, loser} == {"fast", "slow"}
    screenshot(page, "arena-revealed", sidebar)

    board = arena_lab.api("GET", "oui/api/v1/evaluations/leaderboard")
    rows = {m["id"]: m for m in board["models"]}
    # The arena game: +16 for the rated answer's model, -16 for its sibling (E = 0.5), on
    # top of whatever the other test's lone ratings left (they move no Elo).
    assert rows[winner]["rating"] == 1016.0 and rows[loser]["rating"] == 984.0
    feedbacks = arena_lab.api("GET", "oui/api/v1/evaluations/feedbacks/user")
    arena_vote = next(f for f in feedbacks if f["meta"].get("arena"))
    assert arena_vote["data"]["model_id"] == winner
    assert arena_vote["data"]["sibling_model_ids"] == [loser]
