"""The widgets in a real JupyterLab and a real Notebook 7 in Chromium: the notebook runs in a
kernel the frontend starts, the ChatWidget renders, a question typed in its box and sent with
its button is answered by the embedded model, the SearchWidget shows its hits, and the chat the
widget used is the notebook's chat (read back over REST).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from nb_live import LiveServer, start_live_server, stop_live_server
from support.chromium import CHROMIUM, CHROMIUM_ARGS
from support.lab_notebook import run_all_cells

from oui_jupyter.notebook.client import OuiClient
from oui_jupyter.notebook.discovery import ServerInfo

pytestmark = pytest.mark.browser

NOTEBOOK = "notebooks/03_widgets.ipynb"

CLOSE_TAB = """path => {
    for (const widget of Array.from(window.jupyterapp.shell.widgets("main"))) {
        if (widget.context?.path === path) widget.dispose();
    }
}"""
ACTIVATE_TAB = """path => {
    const shell = window.jupyterapp.shell;
    if (shell.currentWidget?.context?.path === path) return true;
    for (const widget of Array.from(shell.widgets("main"))) {
        if (widget.context?.path === path) shell.activateById(widget.id);
    }
    return false;
}"""


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory, llama_server: str) -> Iterator[LiveServer]:
    live = start_live_server(
        tmp_path_factory.mktemp("lab"),
        llama_server,
        sections={
            "LabApp": {"news_url": None, "expose_app_in_browser": True},
            "JupyterNotebookApp": {"expose_app_in_browser": True},
        },
    )
    with OuiClient(ServerInfo(url=live.url, token=live.token)) as client:
        client.wait_for_index(timeout=300)  # the SearchWidget's hits are checked
    yield live
    stop_live_server(live)


def notebook_chat(live: LiveServer, path: str) -> dict:
    found = [
        c for c in live.api("GET", "v1/chats/search", params={"text": path}) if c["title"] == path
    ]
    assert len(found) == 1, found
    return live.api("GET", f"v1/chats/{found[0]['id']}")


@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_chat_widget_in_the_browser(lab_server: LiveServer, tmp_path: Path, frontend: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    # one copy of the notebook per frontend: each gets its own notebook chat
    path = f"{frontend}/{Path(NOTEBOOK).name}"
    (lab_server.root / frontend).mkdir(exist_ok=True)
    shutil.copy(lab_server.root / NOTEBOOK, lab_server.root / path)
    address = f"lab/tree/{path}" if frontend == "lab" else f"notebooks/{path}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab_server.url}{address}?token={lab_server.token}")
            page.wait_for_function(
                "window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=90_000
            )
            run_all_cells(page)
            widget = page.locator(".oui-chat-widget")
            expect(widget).to_be_visible(timeout=90_000)
            expect(widget.locator("select")).to_have_value("smollm2", timeout=30_000)
            search = page.locator(".oui-search-widget")
            expect(search.locator("input[type=text]")).to_have_value(
                "clean_sales refunds", timeout=120_000
            )
            expect(search.locator("li.oui-hit").first).to_be_visible(timeout=120_000)
            links = search.locator("li.oui-hit a").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))"
            )
            first = search.locator("li.oui-hit a").first
            cited = first.get_attribute("data-oui-source")
            assert cited, "the link carries the cited file"
            if frontend == "lab":  # opened here, in a JupyterLab tab, not in a new browser tab
                first.click()
                page.wait_for_function(
                    "path => window.jupyterapp.shell.currentWidget?.context?.path === path",
                    arg=cited,
                    timeout=60_000,
                )
                assert len(page.context.pages) == 1
                # back to the notebook's tab: the cited file's tab is closed (a notebook opened
                # a moment ago takes the focus back while its kernel starts), then the
                # notebook's tab is activated again on every poll until it is current
                if cited != path:
                    page.evaluate(CLOSE_TAB, cited)
                page.wait_for_function(ACTIVATE_TAB, arg=path, timeout=60_000)
            else:  # Notebook 7 opens it in its own page, not in JupyterLab
                with page.context.expect_page(timeout=60_000) as opened:
                    first.click()
                opened_url = opened.value.url
                opened.value.close()
                route = "notebooks" if cited.endswith(".ipynb") else "edit"
                assert f"/{route}/{cited}" in opened_url and "/lab/" not in opened_url, opened_url
            # the `ask` cell answered from code: its question is in the widget's history
            expect(widget.locator(".jp-OutputArea-output")).to_have_count(2, timeout=120_000)
            send = widget.get_by_role("button", name="Send")
            expect(send).to_be_enabled(timeout=60_000)
            widget.locator("textarea").fill("Say hello in two words.")
            send.click()
            expect(widget.locator(".jp-OutputArea-output")).to_have_count(4, timeout=120_000)
            expect(send).to_be_enabled(timeout=120_000)
            expect(widget.locator(".oui-status")).to_have_text("Done", timeout=30_000)
            history = widget.locator(".jp-OutputArea-output").all_inner_texts()
        except Exception:
            page.screenshot(path=str(tmp_path / f"{frontend}-widget-failure.png"))
            raise
        finally:
            browser.close()

    assert history[2].startswith("You: Say hello in two words.")
    assert links and all(link.startswith("/lab/tree/") for link in links)
    messages = notebook_chat(lab_server, path)["chat"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[2]["content"] == "Say hello in two words."
    assert messages[3]["content"].strip() and messages[3]["content"].split()[0] in history[3]
