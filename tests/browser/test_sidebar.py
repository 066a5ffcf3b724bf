"""The sidebar loads in Lab, opens by command, icon and shortcut, and lists chats."""

from __future__ import annotations

from typing import Any

from .conftest import LabServer, open_sidebar, screenshot


def test_sidebar_opens_from_icon_and_shortcut(lab_page: Any) -> None:
    page = lab_page
    tab = page.locator(".jp-SideBar.jp-mod-left [data-id='oui-jupyter-sidebar']")
    tab.wait_for()
    assert "Open WebUI chat" in (tab.get_attribute("title") or "")
    tab.click()
    sidebar = page.locator("#oui-jupyter-sidebar")
    sidebar.wait_for(state="visible")
    # Toggle closed and open again with the keyboard shortcut.
    tab.click()
    sidebar.wait_for(state="hidden")
    page.locator("body").press("Control+Shift+O")
    sidebar.wait_for(state="visible")
    assert page.evaluate("() => window.jupyterapp.commands.hasCommand('oui-jupyter:open')")
    screenshot(page, "01-sidebar-list")


def test_new_chat_view_has_model_picker_and_composer(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    composer = sidebar.get_by_role("textbox", name="Message")
    composer.wait_for(state="visible")
    assert composer.evaluate("el => document.activeElement === el")
    picker = sidebar.get_by_role("combobox", name="Model")
    picker.wait_for()
    screenshot(page, "02-new-chat")
    sidebar.get_by_role("button", name="Back to the chat list").click()
    sidebar.get_by_label("Search chats").wait_for(state="visible")


def test_dark_theme_and_keyboard_reachability(lab_page: Any) -> None:
    page = lab_page
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    # Let Lab settle (theme CSS, launcher) first: under load it may still move focus to the
    # main area, which would race the keyboard steps below.
    page.wait_for_timeout(500)
    sidebar = open_sidebar(page)
    # Themed through JupyterLab's variables: the panel follows the dark layout colour.
    background = sidebar.evaluate("el => getComputedStyle(el).backgroundColor")
    layout = page.evaluate(
        "() => { const d = document.createElement('div'); d.style.background = 'var(--jp-layout-color1)';"
        " document.body.appendChild(d); const c = getComputedStyle(d).backgroundColor; d.remove(); return c; }"
    )
    assert background == layout
    # Keyboard: from the search box, Tab reaches the New chat button; Enter opens a chat.
    sidebar.get_by_label("Search chats").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "New chat"
    page.keyboard.press("Enter")
    sidebar.get_by_role("textbox", name="Message").wait_for(state="visible")
    page.wait_for_function(
        "() => document.activeElement?.getAttribute('aria-label') === 'Message'", timeout=2000
    )
    screenshot(page, "14-dark-theme")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
