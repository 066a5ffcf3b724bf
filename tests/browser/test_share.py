"""Sharing a chat by link in the sidebar, against the scripted backend (fake_backend.py):
share from the list (the link shown and copied, Unshare ends it), open a lab page with
``?oui-share=<id>`` (the snapshot read-only, hostile content inert), clone it into one's own
chats, and the message for an unknown link."""

from __future__ import annotations

import urllib.error
import uuid
from typing import Any

from .conftest import LabServer, open_sidebar, screenshot
from .fake_backend import FakeBackend

HOSTILE = '<img src=x onerror="window.__xss = 1">'


def open_lab_with(context: Any, server: LabServer, query: str) -> Any:
    """A Lab page (fresh workspace) whose address carries ``query``, once restored."""
    page = context.new_page()
    page.set_default_timeout(30_000)
    workspace = f"{server.url}lab/workspaces/t{uuid.uuid4().hex[:12]}"
    page.add_init_script(
        "window.__xss = 0; window.__alerts = 0; window.alert = () => { window.__alerts++; };"
    )
    page.goto(f"{workspace}?token={server.token}&{query}")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )
    return page


def test_share_from_the_list_shows_copies_and_ends_the_link(
    fake_page: Any, fake: FakeBackend, fake_context: Any, lab_server: LabServer
) -> None:
    page = fake_page
    fake_context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=lab_server.url[:-1]
    )
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    # No link to a chat that does not exist yet.
    header_share = sidebar.get_by_role("button", name="Share link to this chat")
    assert not header_share.is_visible()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Plot the sales")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["A line ", "chart."], page)
    header_share.wait_for(state="visible")
    sidebar.get_by_role("button", name="Back to the chat list").click()
    item = sidebar.locator(".jp-OuiChatList-item", has_text="Plot the sales")
    item.hover()
    item.get_by_role("button", name="Share link Plot the sales").click()

    dialog = page.locator(".jp-Dialog")
    link_box = dialog.get_by_role("textbox", name="Share link")
    link_box.wait_for()
    chat = fake.chats[turn.chat_id]
    share_id = chat["share_id"]
    assert share_id and share_id in fake.shares
    # Not under JupyterHub: the link opens this server's lab.
    link = link_box.input_value()
    assert link == f"{lab_server.url}lab?oui-share={share_id}"
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    assert "copied to the clipboard" in dialog.inner_text()
    screenshot(page, "share-link")

    dialog.get_by_role("button", name="Unshare").click()
    dialog.wait_for(state="detached")
    page.wait_for_timeout(300)
    assert share_id not in fake.shares
    assert chat["share_id"] is None


def test_shared_link_opens_read_only_and_clones(
    browser: Any, fake: FakeBackend, fake_context: Any, lab_server: LabServer
) -> None:
    snapshot = fake.add_shared(
        "alice",
        f"Sales {HOSTILE}",
        [
            ("user", f"Why does this fail? {HOSTILE}"),
            (
                "assistant",
                f"Because **x**. {HOSTILE}\n\n![chart](https://example.org/chart.png)",
            ),
        ],
    )
    share_id = snapshot["share_id"]
    page = open_lab_with(fake_context, lab_server, f"oui-share={share_id}")
    sidebar = page.locator("#oui-jupyter-sidebar")
    sidebar.wait_for(state="visible")
    banner = sidebar.locator(".jp-OuiChatView-shared")
    banner.get_by_text("Shared by alice — read-only").wait_for()
    # The parameter left the address: a reload does not reopen the share.
    assert "oui-share" not in page.url
    # The title is text; the messages render as any message does (markdown, sanitised).
    assert sidebar.locator(".jp-OuiChatView-title").inner_text() == f"Sales {HOSTILE}"
    messages = sidebar.locator(".jp-OuiMessage")
    assert messages.count() == 2
    sidebar.locator(
        ".jp-OuiMessage[data-role='assistant'] .jp-OuiMessage-markdown strong"
    ).wait_for()
    page.wait_for_timeout(300)
    for i in range(2):
        html = messages.nth(i).locator(".jp-OuiMessage-body").inner_html()
        assert "onerror" not in html
    assert page.evaluate("() => [window.__xss, window.__alerts]") == [0, 0]
    # The remote image stays behind its button, as in one's own chats.
    held = sidebar.locator(".jp-OuiRemoteImage")
    held.wait_for()
    assert held.inner_text().startswith("Load image from example.org")
    assert sidebar.locator("img[src*='example.org']").count() == 0
    # The owner wrote the question, not "You".
    user = sidebar.locator(".jp-OuiMessage[data-role='user']")
    assert user.locator(".jp-OuiMessage-role").inner_text() == "alice"
    assert user.get_attribute("aria-label") == "Message from alice"
    # Read-only: no composer, no model picker, no edit or regenerate.
    assert not sidebar.get_by_role("textbox", name="Message").is_visible()
    assert not sidebar.locator(".jp-OuiModelPicker").first.is_visible()
    assert not sidebar.get_by_role("button", name="Regenerate answer").is_visible()
    assert not sidebar.get_by_role("button", name="Edit and resend").is_visible()
    assert sidebar.get_by_role("button", name="Copy message").count() == 2
    assert not sidebar.get_by_role("button", name="Share link to this chat").is_visible()
    screenshot(page, "share-read-only")

    before = set(fake.chats)
    banner.get_by_role("button", name="Clone into my chats").click()
    sidebar.locator(".jp-OuiChatView-title", has_text="Clone of Sales").wait_for()
    (clone_id,) = set(fake.chats) - before
    assert fake.chats[clone_id]["chat"]["originalChatId"] == snapshot["id"]
    banner.wait_for(state="hidden")
    assert user.locator(".jp-OuiMessage-role").inner_text() == "You"
    sidebar.get_by_role("button", name="Regenerate answer").wait_for()
    # One's own chat now: it takes a new turn under the cloned messages.
    box = sidebar.get_by_role("textbox", name="Message")
    box.wait_for(state="visible")
    box.fill("And next quarter?")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    assert turn.chat_id == clone_id
    sidebar.get_by_role("button", name="Share link to this chat").wait_for(state="visible")
    assert turn.request["parent_id"] == snapshot["chat"]["history"]["currentId"]
    assert page.evaluate("() => [window.__xss, window.__alerts]") == [0, 0]
    screenshot(page, "share-cloned")
    page.close()


def test_unknown_share_link_says_so(
    browser: Any, fake: FakeBackend, fake_context: Any, lab_server: LabServer
) -> None:
    page = open_lab_with(fake_context, lab_server, "oui-share=no-such-share")
    sidebar = page.locator("#oui-jupyter-sidebar")
    sidebar.wait_for(state="visible")
    alert = sidebar.locator(".jp-OuiSidebar-banner")
    alert.get_by_text("This share link is unknown or has ended").wait_for()
    # Not a blank panel: the chat list is there under the message.
    sidebar.locator(".jp-OuiChatList").wait_for(state="visible")
    assert "oui-share" not in page.url
    screenshot(page, "share-unknown")

    # The command takes a link too, and refuses what is not one.
    page.evaluate(
        "() => window.jupyterapp.commands.execute('oui-jupyter:open-shared', {link: 'https://example.org/lab'})"
    )
    alert.get_by_text("Not a share link").wait_for()
    snapshot = fake.add_shared("bob", "Notes", [("user", "Hello"), ("assistant", "Hi")])
    link = f"{lab_server.url}lab?oui-share={snapshot['share_id']}"
    page.evaluate(
        "link => window.jupyterapp.commands.execute('oui-jupyter:open-shared', {link})", link
    )
    sidebar.get_by_text("Shared by bob — read-only").wait_for()
    page.close()


def test_share_open_and_clone_against_the_real_server(browser: Any, lab_server: LabServer) -> None:
    """The same flow on the real routes (no fake): what the sidebar reads of their answers."""
    history = {
        "messages": {
            "u1": {
                "id": "u1",
                "parentId": None,
                "childrenIds": ["a1"],
                "role": "user",
                "content": f"Real question {HOSTILE}",
                "timestamp": 1,
            },
            "a1": {
                "id": "a1",
                "parentId": "u1",
                "childrenIds": [],
                "role": "assistant",
                "content": "Real **answer**",
                "done": True,
                "timestamp": 2,
            },
        },
        "currentId": "a1",
    }
    title = f"Real share {uuid.uuid4().hex[:6]}"
    chat = lab_server.api(
        "POST", "oui/api/v1/chats/new", {"chat": {"title": title, "history": history}}
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = open_lab_with(context, lab_server, "x=1")
        sidebar = open_sidebar(page)
        item = sidebar.locator(".jp-OuiChatList-item", has_text=title)
        item.hover()
        item.get_by_role("button", name=f"Share link {title}").click()
        link = page.locator(".jp-Dialog").get_by_role("textbox", name="Share link").input_value()
        page.locator(".jp-Dialog").get_by_role("button", name="Done").click()
        share_id = lab_server.api("GET", f"oui/api/v1/chats/{chat['id']}")["share_id"]
        assert link == f"{lab_server.url}lab?oui-share={share_id}"

        other = open_lab_with(page.context, lab_server, f"oui-share={share_id}")
        shared = other.locator("#oui-jupyter-sidebar")
        shared.get_by_text(f"Shared by {chat['user_id']} — read-only").wait_for()
        shared.locator(".jp-OuiMessage-markdown strong", has_text="answer").wait_for()
        assert other.evaluate("() => [window.__xss, window.__alerts]") == [0, 0]
        shared.get_by_role("button", name="Clone into my chats").click()
        shared.locator(".jp-OuiChatView-title", has_text=f"Clone of {title}").wait_for()
        other.close()

        # Unshare from the list ends the link on the server.
        item.hover()
        item.get_by_role("button", name=f"Share link {title}").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Unshare").click()
        page.locator(".jp-Dialog").wait_for(state="detached")
        page.wait_for_timeout(300)
        try:
            lab_server.api("GET", f"oui/api/v1/chats/share/{share_id}")
            raise AssertionError("the link still opens")
        except urllib.error.HTTPError as error:
            assert error.code == 404
    finally:
        context.close()
