"""The prompt library and memories in the sidebar, in a real Lab: typing ``/`` in the composer
lists the user's prompts (filtered as typed, chosen with the keyboard), the chosen prompt's
content replaces the ``/word`` with its first ``{{variable}}`` selected and Tab going to the
next; the Memories view lists, adds and deletes memories, shows hostile text as text and holds
the ``ui.memory`` switch."""

from __future__ import annotations

import time
import uuid
from typing import Any

from .conftest import LabServer, open_sidebar, screenshot


def shown(composer: Any, menu: Any) -> None:
    """Wait for the menu; if Lab took the focus meanwhile, give it back to the composer
    (which shows the menu again for the /word at the caret)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        try:
            menu.wait_for(state="visible", timeout=3000)
            return
        except PlaywrightTimeout:
            composer.focus()
    menu.wait_for(state="visible")


def test_slash_lists_prompts_and_inserts_the_chosen_one(
    lab_page: Any, lab_server: LabServer
) -> None:
    tag = uuid.uuid4().hex[:6]
    for command, title, content in [
        (f"rev{tag}", "Review a notebook", "Review {{topic}} for {{audience}} on {{CURRENT_DATE}}"),
        (f"rew{tag}", "Rewrite <b>bold</b>", "Rewrite this"),
        (f"sum{tag}", "Summarise", "Summarise it"),
    ]:
        lab_server.api(
            "POST",
            "oui/api/v1/prompts/create",
            {"command": command, "title": title, "content": content},
        )
    page = lab_page
    # Let Lab settle first: under load it may still move the focus to the main area (which
    # closes the menu, as any blur does; focusing the composer again shows it again).
    page.locator(".jp-Launcher").first.wait_for()
    page.wait_for_timeout(1000)
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    composer = sidebar.get_by_role("textbox", name="Message")
    composer.wait_for(state="visible")
    composer.click()
    composer.press_sequentially("Please /re")
    menu = sidebar.get_by_role("listbox", name="Prompts")
    shown(composer, menu)
    options = menu.get_by_role("option")
    commands = [o.get_attribute("data-command") for o in options.all()]
    assert f"/rev{tag}" in commands and f"/rew{tag}" in commands
    assert f"/sum{tag}" not in commands
    composer.press_sequentially(f"w{tag}")
    page.wait_for_function("() => document.querySelectorAll('.jp-OuiPromptMenu-item').length === 1")
    # the title is text, not markup
    assert menu.locator(".jp-OuiPromptMenu-title").first.inner_text() == "Rewrite <b>bold</b>"
    assert menu.locator("b").count() == 0
    composer.press("Escape")
    menu.wait_for(state="hidden")

    composer.fill("")
    composer.press_sequentially("/re")
    shown(composer, menu)
    active = menu.locator(".jp-mod-active")
    first = active.get_attribute("data-command")
    composer.press("ArrowDown")
    second = menu.locator(".jp-mod-active").get_attribute("data-command")
    assert second != first
    composer.press("ArrowUp")
    assert menu.locator(".jp-mod-active").get_attribute("data-command") == first
    while menu.locator(".jp-mod-active").get_attribute("data-command") != f"/rev{tag}":
        composer.press("ArrowDown")
    screenshot(page, "30-prompt-menu")
    composer.press("Enter")
    menu.wait_for(state="hidden")
    today = time.strftime("%Y-%m-%d")
    assert composer.input_value() == f"Review {{{{topic}}}} for {{{{audience}}}} on {today}"
    selected = composer.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected == "{{topic}}"
    page.keyboard.type("penguins")
    composer.press("Tab")
    selected = composer.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected == "{{audience}}"
    page.keyboard.type("the team")
    assert composer.input_value() == f"Review penguins for the team on {today}"


def test_memories_view_lists_adds_deletes_and_switches(
    lab_page: Any, lab_server: LabServer
) -> None:
    hostile = '<img src=x onerror="window.__oui_pwned=1"> likes teal'
    lab_server.api("POST", "oui/api/v1/memories/add", {"content": hostile})
    page = lab_page
    sidebar = open_sidebar(page)
    screenshot(page, "32-chat-list-header")
    sidebar.get_by_role("button", name="Memories").click()
    items = sidebar.get_by_role("list", name="Memories")
    items.get_by_text("likes teal").wait_for()
    assert sidebar.locator(".jp-OuiMemories img").count() == 0
    assert page.evaluate("() => window.__oui_pwned === undefined")

    sidebar.get_by_label("New memory").fill("Works on penguin data")
    sidebar.get_by_role("button", name="Add").click()
    items.get_by_text("Works on penguin data").wait_for()
    stored = [m["content"] for m in lab_server.api("GET", "oui/api/v1/memories/")]
    assert "Works on penguin data" in stored and hostile in stored

    switch = sidebar.get_by_label("Use my memories in chats")
    assert not switch.is_checked()
    switch.check()
    deadline = time.monotonic() + 10
    while (
        lab_server.api("GET", "oui/api/v1/users/user/settings").get("ui", {}).get("memory")
        is not True
    ):
        assert time.monotonic() < deadline, "the switch did not reach the server"
        time.sleep(0.1)
    screenshot(page, "31-memories")

    sidebar.get_by_role("button", name="Delete memory: Works on penguin data").click()
    items.get_by_text("Works on penguin data").wait_for(state="detached")
    stored = [m["content"] for m in lab_server.api("GET", "oui/api/v1/memories/")]
    assert stored == [hostile]
    sidebar.get_by_role("button", name="Forget all").click()
    sidebar.get_by_role("button", name="Click again to forget every memory").click()
    sidebar.get_by_text("No memories yet").wait_for()
    assert lab_server.api("GET", "oui/api/v1/memories/") == []
    lab_server.api("POST", "oui/api/v1/users/user/settings/update", {})
