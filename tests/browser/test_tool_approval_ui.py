"""Tool calls in the sidebar, end to end: a real lab whose only connection is the scripted
upstream (``toolcall`` calls the first tool it is offered) and whose registry has a test tool
that changes things (``guarded``, from an entry point of a package on the lab's path). The
Tools picker sends ``tool_ids``; the call's card waits with Approve / Deny; approve runs it
and the answer built from its result comes; deny runs nothing."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.scripted_openai import ScriptedOpenAI

from .conftest import (
    LabServer,
    _shoot_on_failure,
    open_lab,
    open_sidebar,
    running_lab,
    scripted_lab_config,
)

TOOL_MODULE = '''
from pathlib import Path
from oui_jupyter.tools.base import ToolResult


class GuardedTool:
    """Appends its text to guarded.log in the workspace: a change, so it asks first."""

    name = "guarded"
    description = "Write the text into guarded.log."
    parameters = {"type": "object", "properties": {"text": {"type": "string"}}}
    requires_approval = True

    async def run(self, args, context):
        with open(Path(context.root_dir) / "guarded.log", "a") as log:
            log.write(args.get("text", "") + "\\n")
        return ToolResult("wrote: " + args.get("text", ""))
'''


def tool_package(base: Path) -> Path:
    """A package on a path of its own whose entry point (group oui_jupyter.tools) is
    ``guarded``: the lab's registry loads it as it loads any installed package's tools."""
    site = base / "site"
    (site / "oui_browser_tools-0.1.dist-info").mkdir(parents=True)
    (site / "oui_browser_tools.py").write_text(textwrap.dedent(TOOL_MODULE))
    info = site / "oui_browser_tools-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: oui-browser-tools\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[oui_jupyter.tools]\nguarded = oui_browser_tools:GuardedTool\n"
    )
    return site


@pytest.fixture(scope="module")
def tools_lab(
    tmp_path_factory: pytest.TempPathFactory, scripted_openai_server: ScriptedOpenAI
) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("tools-lab")
    site = tool_package(base)
    config = scripted_lab_config(scripted_openai_server.base_url, completion_timeout=10.0)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), before) if p)
    try:
        lab_cm = running_lab(base, config, "jupyter-tools.log")
        lab = lab_cm.__enter__()
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
    try:
        yield lab
    finally:
        lab_cm.__exit__(None, None, None)


@pytest.fixture
def page(browser: Any, tools_lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = open_lab(browser, tools_lab)
    yield page
    _shoot_on_failure(request, page)
    page.context.close()


def ask_with_the_tool(page: Any) -> Any:
    """A new chat with the toolcall model and the guarded tool ticked; the waiting card."""
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiModelPicker-select option')]"
        ".some(o => o.value === 'toolcall')",
        timeout=60_000,
    )
    sidebar.get_by_role("combobox", name="Model").select_option("toolcall")
    sidebar.locator(".jp-OuiToolPicker-summary").click()
    tool = sidebar.get_by_role("checkbox", name="guarded (asks first)")
    tool.check()
    sidebar.locator(".jp-OuiToolPicker-summary").click()  # closed again
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("write hi")
    box.press("Enter")
    card = sidebar.locator(".jp-OuiToolCall[data-status='awaiting_approval']")
    card.wait_for(state="visible", timeout=30_000)
    assert card.locator(".jp-OuiToolCall-name").inner_text() == "guarded"
    return sidebar, card


def log_lines(lab: LabServer) -> int:
    path = lab.root_dir / "guarded.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_approve_runs_the_call_and_the_answer_comes(page: Any, tools_lab: LabServer) -> None:
    before = log_lines(tools_lab)
    sidebar, card = ask_with_the_tool(page)
    assert log_lines(tools_lab) == before  # nothing runs before the user says so
    card.get_by_role("button", name="Approve: guarded").click()
    answer = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
    answer.get_by_text("Tool said: wrote: hi").wait_for(timeout=30_000)
    done = sidebar.locator(".jp-OuiToolCall[data-status='done']")
    done.wait_for()
    assert done.locator(".jp-OuiToolCall-status").inner_text() == "done"
    # the card sits where the model made the call: after "Checking.", before the answer
    order = answer.evaluate(
        "(el) => { const t = el.innerText; return [t.indexOf('Checking.'), "
        "t.indexOf('guarded'), t.indexOf('Tool said')]; }"
    )
    assert 0 <= order[0] < order[1] < order[2], order
    assert log_lines(tools_lab) == before + 1


def test_deny_runs_nothing(page: Any, tools_lab: LabServer) -> None:
    before = log_lines(tools_lab)
    sidebar, card = ask_with_the_tool(page)
    card.get_by_role("button", name="Deny: guarded").click()
    answer = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
    answer.get_by_text("Tool said: The user denied this call.").wait_for(timeout=30_000)
    sidebar.locator(".jp-OuiToolCall[data-status='denied']").wait_for()
    assert log_lines(tools_lab) == before
