"""The chat UI against a scripted backend (see fake_backend.py): streaming token by token,
stop, regenerate and branches, edit-and-resend, server errors, sanitising, code blocks into a
notebook, citations into a notebook cell, settings."""

from __future__ import annotations

import json
from typing import Any

from .conftest import LabServer, open_lab, open_sidebar, screenshot
from .fake_backend import FakeBackend


def start_chat(page: Any, text: str) -> Any:
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    return sidebar


def answers(sidebar: Any) -> Any:
    return sidebar.locator(".jp-OuiMessage[data-role='assistant']")


def test_streams_token_by_token_without_rerendering_the_chat(
    fake_page: Any, fake: FakeBackend
) -> None:
    page = fake_page
    sidebar = start_chat(page, "Count to twenty")
    turn = fake.wait_turn(page, 1)
    assert turn.request["stream"] is True
    assert turn.request["messages"][-1] == {"role": "user", "content": "Count to twenty"}
    assert turn.request["parent_id"] is None
    assert turn.request["features"] == {"workspace": True}
    assert turn.request["session_id"]
    answer = answers(sidebar).last
    # Stop is offered while generating.
    sidebar.get_by_role("button", name="Stop generating").wait_for(state="visible")
    tokens = [f"{i} " for i in range(1, 21)]
    seen: list[str] = []
    for _i, token in enumerate(tokens):
        fake.stream(turn, [token], page, delay_ms=60, done=False)
        seen.append(answer.locator(".jp-OuiMessage-body").inner_text())
    screenshot(page, "03-streaming")
    fake.finish(turn)
    page.wait_for_function(
        "() => !document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming')"
    )
    final = answer.locator(".jp-OuiMessage-markdown").inner_text().strip()
    assert final == "".join(tokens).strip()
    # The text grew in many visible steps (not all at once at the end).
    distinct = {s.strip() for s in seen if s.strip()}
    assert len(distinct) >= 10, distinct
    # Streaming touched only the answer: the user message rendered once.
    stats = page.evaluate("() => window.ouiJupyterStats")
    user_id = sidebar.locator(".jp-OuiMessage[data-role='user']").get_attribute("data-message-id")
    assert stats["byMessage"][user_id] == 1
    sidebar.get_by_role("button", name="Send message").wait_for(state="visible")
    screenshot(page, "04-answer")


def test_stop_button_stops_generation(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = start_chat(page, "Write a long story")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["Once ", "upon ", "a "], page, done=False)
    sidebar.get_by_role("button", name="Stop generating").click()
    page.wait_for_function(
        "() => !document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming')"
    )
    assert fake.stops == [turn.chat_id]
    sidebar.get_by_role("button", name="Send message").wait_for(state="visible")
    assert "Once upon a" in answers(sidebar).last.inner_text()


def test_regenerate_and_switch_branches(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = start_chat(page, "Pick a colour")
    first = fake.wait_turn(page, 1)
    fake.stream(first, ["Blue"], page)
    sidebar.get_by_role("button", name="Regenerate answer").wait_for()
    sidebar.get_by_role("button", name="Regenerate answer").click()
    second = fake.wait_turn(page, 2)
    assert second.request["regenerate"] is True
    assert second.request["parent_id"] == first.user_message_id
    fake.stream(second, ["Green"], page)
    label = sidebar.locator(".jp-OuiMessage-branchLabel")
    label.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage-branchLabel')?.textContent === '2/2'"
    )
    assert "Green" in answers(sidebar).last.inner_text()
    screenshot(page, "05-branches")
    sidebar.get_by_role("button", name="Previous version").click()
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage-branchLabel')?.textContent === '1/2'"
    )
    answers(sidebar).last.get_by_text("Blue").wait_for()
    # The branch choice is saved in the chat.
    page.wait_for_timeout(300)
    assert fake.chats[first.chat_id]["chat"]["history"]["currentId"] == first.message_id
    sidebar.get_by_role("button", name="Next version").click()
    answers(sidebar).last.get_by_text("Green").wait_for()


def test_workspace_checkbox_holds_on_regenerate_and_per_chat(
    fake_page: Any, fake: FakeBackend
) -> None:
    page = fake_page
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    workspace = sidebar.get_by_role("checkbox", name="Workspace")
    assert workspace.is_checked()  # the setting's default for a new chat
    workspace.uncheck()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("No sources please")
    box.press("Enter")
    first = fake.wait_turn(page, 1)
    assert first.request["features"] == {"workspace": False}
    fake.stream(first, ["Plain"], page)
    sidebar.get_by_role("button", name="Regenerate answer").click()
    second = fake.wait_turn(page, 2)
    assert second.request["regenerate"] is True
    assert second.request["features"] == {"workspace": False}
    fake.stream(second, ["Still plain"], page)
    # A new chat starts from the setting; reopening the first shows its own choice.
    sidebar.get_by_role("button", name="Back to the chat list").click()
    sidebar.get_by_role("button", name="New chat").click()
    assert workspace.is_checked()
    sidebar.get_by_role("button", name="Back to the chat list").click()
    sidebar.locator(".jp-OuiChatList-open", has_text="No sources please").click()
    answers(sidebar).last.get_by_text("Still plain").wait_for()
    assert not workspace.is_checked()


def test_interrupted_answer_shows_a_notice_and_continues(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = start_chat(page, "Write a long story")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["Once ", "upon "], page, done=False)
    fake.interrupt(turn)
    answer = answers(sidebar).last
    notice = answer.locator(".jp-OuiMessage-notice")
    notice.wait_for(state="visible")
    assert notice.inner_text().startswith("Interrupted")
    answer.get_by_role("button", name="Regenerate answer").wait_for()
    screenshot(page, "interrupted-answer")
    answer.get_by_role("button", name="Continue answer").click()
    more = fake.wait_turn(page, 2)
    assert more.message_id == turn.message_id
    assert more.request["continue"] is True and more.request["parent_id"] == turn.message_id
    assert more.request["messages"][-1] == {"role": "assistant", "content": "Once upon "}
    notice.wait_for(state="hidden")
    fake.stream(more, ["a ", "time"], page)
    page.wait_for_function(
        "() => !document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming')"
    )
    assert answer.locator(".jp-OuiMessage-markdown").inner_text().strip() == "Once upon a time"
    assert answers(sidebar).count() == 1
    assert answer.get_by_role("button", name="Continue answer").count() == 0
    assert not notice.is_visible()


def test_edit_and_resend_makes_a_sibling(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = start_chat(page, "Helo")
    first = fake.wait_turn(page, 1)
    fake.stream(first, ["Hi!"], page)
    user = sidebar.locator(".jp-OuiMessage[data-role='user']").last
    user.hover()
    user.get_by_role("button", name="Edit and resend").click()
    editor = user.get_by_role("textbox", name="Edit message")
    editor.fill("Hello")
    user.get_by_role("button", name="Save & send").click()
    second = fake.wait_turn(page, 2)
    assert second.request["parent_id"] is None
    assert second.request["messages"] == [{"role": "user", "content": "Hello"}]
    fake.stream(second, ["Hello to you"], page)
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage[data-role=user] .jp-OuiMessage-branchLabel')?.textContent === '2/2'"
    )


def test_server_error_is_readable_in_the_chat(fake_page: Any, fake: FakeBackend) -> None:
    fake.completion_error = (502, "The model server is not reachable")
    page = fake_page
    sidebar = start_chat(page, "Hello?")
    error = sidebar.locator(".jp-OuiMessage-error:not([hidden])")
    error.wait_for(state="visible")
    assert "The model server is not reachable" in error.inner_text()
    assert error.get_attribute("role") == "alert"
    # A streamed error frame is shown too.
    fake.completion_error = None
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Again")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    fake.emit(
        {
            "type": "chat:completion",
            "chat_id": turn.chat_id,
            "message_id": turn.message_id,
            "data": {"error": {"content": "context length exceeded"}, "done": True},
        }
    )
    sidebar.get_by_text("Error: context length exceeded").wait_for()
    screenshot(page, "06-error")


def test_model_output_is_sanitised(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    page.evaluate("() => { window.__xss = 0; }")
    sidebar = start_chat(page, "Show me HTML")
    turn = fake.wait_turn(page, 1)
    evil = (
        'Here:\n\n<img src=x onerror="window.__xss = 1">\n\n<script>window.__xss = 2</script>\n\n'
        '<a href="javascript:window.__xss=3">link</a> <svg onload="window.__xss=4"></svg>\n\n'
        '<iframe src="javascript:parent.__xss=5"></iframe>\n\nThe end, **bold**.'
    )
    fake.stream(turn, [evil[:40], evil[40:]], page)
    answer = answers(sidebar).last
    answer.locator(".jp-OuiMessage-markdown strong").wait_for()
    answer.get_by_text("link").click()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__xss") == 0
    html = answer.locator(".jp-OuiMessage-markdown").inner_html()
    assert "onerror" not in html and "<script" not in html and "javascript:" not in html
    assert "onload" not in html and "<iframe" not in html
    screenshot(page, "07-xss")


def _notebook(server: LabServer, name: str, cells: list[str]) -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (server.root_dir / name).write_text(json.dumps(nb))


def test_code_block_insert_and_run_in_notebook(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _notebook(lab_server, "run_here.ipynb", ["x = 6"])
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'run_here.ipynb'})"
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    sidebar = start_chat(page, "Multiply")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["Run this:\n\n```python\nprint(6 * 7)\n```\n"], page)
    actions = answers(sidebar).last.locator(".jp-OuiCodeActions")
    actions.wait_for()
    # No band behind each line: the code is transparent on the block's background.
    code = answers(sidebar).last.locator("pre code")
    assert code.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"
    screenshot(page, "08-code-actions")
    actions.get_by_role("button", name="Run").click()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length === 2"
    )
    assert "print(6 * 7)" in cells.nth(1).locator(".jp-InputArea").inner_text()
    cells.nth(1).locator(".jp-OutputArea-output").get_by_text("42").wait_for(timeout=60_000)
    # Insert (no run) and replace.
    actions.get_by_role("button", name="Insert").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length === 3"
    )
    page.evaluate(
        "() => window.jupyterapp.commands.execute('oui-jupyter:replace-active-cell', {code: 'y = 1'})"
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource() === 'y = 1'"
    )
    screenshot(page, "09-code-inserted")


def test_citation_opens_the_notebook_at_the_cell(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _notebook(lab_server, "cited.ipynb", [f"# cell {i}\nvalue_{i} = {i}" for i in range(30)])
    sidebar = start_chat(page, "Where is value_25?")
    turn = fake.wait_turn(page, 1)
    fake.stream(
        turn,
        ["It is set in cell 26 [1]."],
        page,
        sources=[
            {
                "source": "cited.ipynb",
                "cell": 25,
                "cell_id": "cell-25",
                "snippet": "value_25 = 25",
                "score": 0.9,
            }
        ],
    )
    chip = sidebar.locator(".jp-OuiCitation")
    chip.wait_for()
    assert "cited.ipynb · cell 26" in chip.inner_text()
    screenshot(page, "10-citation")
    chip.click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.context?.path === 'cited.ipynb'"
        " && window.jupyterapp.shell.currentWidget.content.activeCellIndex === 25"
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active").get_by_text(
        "value_25 = 25"
    ).wait_for()
    screenshot(page, "11-citation-opened")


def test_model_picker_greys_out_unavailable_and_remembers_per_chat(
    fake_page: Any, fake: FakeBackend
) -> None:
    page = fake_page
    sidebar = start_chat(page, "hi")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["hello"], page)
    picker = sidebar.get_by_role("combobox", name="Model")
    disabled = picker.locator("option[disabled]")
    assert "no API key" in disabled.inner_text()
    assert picker.input_value() == "smollm2"
    # The narrow sidebar cuts long names: the whole one is the picker's tooltip.
    assert picker.get_attribute("title") == picker.locator("option:checked").inner_text()
    # Looks like a picker: JupyterLab's HTMLSelect with its caret; the embedded model's
    # short name, without a " · local" suffix; no hint while another model is listed.
    assert sidebar.locator(".jp-OuiModelPicker .jp-HTMLSelect svg").count() == 1
    assert picker.locator("option:checked").inner_text() == "SmolLM2 (embedded)"
    assert not sidebar.locator(".jp-OuiModelPicker-hint").is_visible()
    assert fake.chats[turn.chat_id]["chat"]["models"] == ["smollm2"]


def test_model_picker_says_how_to_add_a_model_when_only_the_embedded_one(
    browser: Any, lab_server: LabServer, fake_context: Any, fake: FakeBackend
) -> None:
    fake.models = [m for m in fake.models if m["connection"] == "local"]
    page = open_lab(browser, lab_server, context=fake_context)
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    hint = sidebar.locator(".jp-OuiModelPicker-hint")
    hint.wait_for(state="visible")
    assert "c.OuiJupyter.openai_api_base_urls" in hint.inner_text()
    # Nothing remote: the hint is text, not a link to load.
    assert hint.locator("a, img").count() == 0
    # At the default sidebar width the picker fits: the caret stays inside the sidebar.
    picker = sidebar.locator(".jp-OuiModelPicker .jp-HTMLSelect")
    box, panel = picker.bounding_box(), sidebar.bounding_box()
    assert box["x"] + box["width"] <= panel["x"] + panel["width"]
    screenshot(page, "12-model-picker-hint")


def test_index_progress_bar(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = open_sidebar(page)
    page.wait_for_function("() => true")
    fake.emit(
        {
            "type": "index:progress",
            "data": {
                "files_done": 3,
                "files_total": 10,
                "chunks_embedded": 40,
                "chunks_total": 100,
            },
        }
    )
    bar = sidebar.locator(".jp-OuiIndexProgress")
    bar.wait_for(state="visible")
    assert "3/10 files" in bar.inner_text()
    assert abs(bar.locator("progress").evaluate("p => p.value") - 0.4) < 1e-6  # 40 of 100 chunks
    assert "(40%)" in bar.inner_text()
    screenshot(page, "12-index-progress")
    fake.emit(
        {
            "type": "index:progress",
            "data": {
                "files_done": 10,
                "files_total": 10,
                "chunks_embedded": 100,
                "chunks_total": 100,
                "done": True,
            },
        }
    )
    bar.wait_for(state="hidden")


def test_explain_this_error_sends_the_cell_and_traceback(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _notebook(lab_server, "broken.ipynb", ["numbers = [1, 2]\nnumbers[0] / 0"])
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'broken.ipynb'})"
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first
    cell.locator(".jp-OutputArea-output").get_by_text("ZeroDivisionError").first.wait_for(
        timeout=60_000
    )
    # The context menu offers the commands on a cell with an error.
    cell.locator(".jp-InputArea-editor").click(button="right")
    menu = page.locator(".lm-Menu")
    menu.get_by_text("Explain This Error").wait_for()
    menu.get_by_text("Ask about This Cell").wait_for()
    screenshot(page, "13-context-menu")
    menu.get_by_text("Explain This Error").click()
    turn = fake.wait_turn(page, 1)
    prompt = turn.request["messages"][-1]["content"]
    assert prompt.startswith("Explain this error")
    assert "numbers[0] / 0" in prompt and "ZeroDivisionError" in prompt
    assert "broken.ipynb, cell 1" in prompt
    fake.stream(turn, ["You divided by zero."], page)
    open_sidebar(page).get_by_text("You divided by zero.").wait_for()


def test_ask_about_this_cell_adds_context_to_the_next_message(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _notebook(lab_server, "ask.ipynb", ["total = sum(range(10))"])
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'ask.ipynb'})"
    )
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first
    cell.wait_for()
    cell.locator(".jp-InputArea-editor").click(button="right")
    page.locator(".lm-Menu").get_by_text("Ask about This Cell").click()
    sidebar = open_sidebar(page)
    chip = sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip")
    chip.wait_for()
    assert "ask.ipynb, cell 1" in chip.inner_text()
    box = sidebar.get_by_role("textbox", name="Message")
    assert box.evaluate("el => document.activeElement === el")
    box.fill("What does this compute?")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    content = turn.request["messages"][-1]["content"]
    assert content.startswith("What does this compute?") and "total = sum(range(10))" in content
    assert not sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip").count()


def test_ask_about_selection_sends_only_the_selected_text(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _notebook(
        lab_server,
        "select.ipynb",
        ["total = sum(range(10))\nleft_alone = 'not part of the question'"],
    )
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'select.ipynb'})"
    )
    line = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-line").first
    line.wait_for()
    line.click()
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    line.click(button="right", position={"x": 4, "y": 4})
    page.locator(".lm-Menu").get_by_text("Ask about Selection").click()
    sidebar = open_sidebar(page)
    chip = sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip")
    chip.wait_for()
    assert "select.ipynb, cell 1 (selection)" in chip.inner_text()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Why this line?")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    content = turn.request["messages"][-1]["content"]
    assert content.startswith("Why this line?") and "total = sum(range(10))" in content
    assert "left_alone" not in content


def test_send_with_shift_enter_setting(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page

    def put(raw: str) -> None:
        page.evaluate(
            """async (raw) => {
                const s = await window.jupyterapp.serviceManager.settings.fetch('oui-jupyter:plugin');
                await window.jupyterapp.serviceManager.settings.save('oui-jupyter:plugin', raw);
            }""",
            raw,
        )

    put('{"sendWith": "Shift Enter"}')
    try:
        page.reload()
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate(
            "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
        )
        sidebar = open_sidebar(page)
        sidebar.get_by_role("button", name="New chat").click()
        box = sidebar.get_by_role("textbox", name="Message")
        assert "Shift+Enter to send" in (box.get_attribute("placeholder") or "")
        box.type("line one")
        box.press("Enter")
        box.type("line two")
        assert box.input_value() == "line one\nline two"
        assert not fake.turns
        box.press("Shift+Enter")
        turn = fake.wait_turn(page, 1)
        assert turn.request["messages"][-1]["content"] == "line one\nline two"
    finally:
        put("{}")


def test_attach_by_upload_and_by_drag_from_the_file_browser(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    (lab_server.root_dir / "notes_for_chat.txt").write_text("The meeting is on Tuesday.\n")
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    # Upload through the file input.
    sidebar.locator(".jp-OuiComposer input[type=file]").set_input_files(
        files=[{"name": "data.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}]
    )
    sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip", has_text="data.csv").wait_for()
    # Drag a file from JupyterLab's file browser onto the composer. The file browser and the
    # chat share the left area; with the chat on the right (Lab's "Switch Sidebar Side") both show.
    page.evaluate(
        """() => { const app = window.jupyterapp;
            const chat = Array.from(app.shell.widgets('left')).find(w => w.id === 'oui-jupyter-sidebar');
            app.shell.add(chat, 'right', {rank: 1000}); app.shell.activateById('oui-jupyter-sidebar');
            app.shell.activateById('filebrowser'); }"""
    )
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:refresh')")
    item = page.locator(".jp-DirListing-item", has_text="notes_for_chat.txt")
    item.wait_for()
    composer = sidebar.locator(".jp-OuiComposer-input")
    composer.wait_for(state="visible")
    start, end = item.bounding_box(), composer.bounding_box()
    page.mouse.move(start["x"] + 30, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 60, start["y"] + start["height"] / 2 + 20, steps=5)
    page.mouse.move(end["x"] + 40, end["y"] + 20, steps=15)
    page.mouse.up()
    chips = sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip")
    page.wait_for_function(
        "() => document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiComposer-chips .jp-OuiChip').length === 2"
    )
    screenshot(page, "15-attachments")
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Summarise these")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    files = turn.request["files"]
    assert [f["type"] for f in files] == ["file", "file"] and all(f["id"] for f in files)
    assert chips.count() == 0
    assert len(fake.uploads) == 2 and fake.uploads[1] == "notes_for_chat.txt"
