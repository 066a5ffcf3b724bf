"""Image generation from the sidebar, end to end: a real lab whose images endpoint (and only
connection) is the scripted upstream. The Image toggle makes the next message an image turn;
the answer shows the generated image, and "Insert into notebook" adds a cell below the active
one whose output is that image (``display_data`` ``image/png``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.scripted_media import PNG, ScriptedMedia

from .conftest import (
    LabServer,
    _shoot_on_failure,
    open_lab,
    open_sidebar,
    running_lab,
    screenshot,
    scripted_lab_config,
)

NOTEBOOK_CELLS = "(path) => [...window.jupyterapp.shell.widgets('main')].find(w => w.context?.path === path)?.content.model.toJSON().cells"


@pytest.fixture(scope="module")
def images_lab(
    tmp_path_factory: pytest.TempPathFactory, scripted_media_server: ScriptedMedia
) -> Iterator[LabServer]:
    config = scripted_lab_config(
        scripted_media_server.base_url, images_config={"ENABLE_IMAGE_GENERATION": True}
    )
    with running_lab(tmp_path_factory.mktemp("images-lab"), config, "jupyter-images.log") as lab:
        yield lab


@pytest.fixture
def page(browser: Any, images_lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = open_lab(browser, images_lab)
    yield page
    _shoot_on_failure(request, page)
    page.context.close()


def _empty_notebook(server: LabServer, name: str) -> None:
    cell = {"cell_type": "code", "execution_count": None, "id": "first", "metadata": {}}
    nb = {
        "cells": [{**cell, "outputs": [], "source": "x = 1"}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (server.root_dir / name).write_text(json.dumps(nb))


def test_image_toggle_generates_an_image_that_goes_into_a_notebook(
    page: Any, images_lab: LabServer, scripted_media: ScriptedMedia
) -> None:
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    toggle = sidebar.get_by_role("checkbox", name="Generate an image")
    toggle.wait_for(state="visible")  # the server's features say enable_image_generation
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiModelPicker-select')?.value === 'img-1'"
    )
    toggle.check()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("a red square")
    box.press("Enter")

    figure = sidebar.locator(".jp-OuiMessage-image")
    figure.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage-image img')?.src.startsWith('blob:')"
    )
    img = figure.locator("img")
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage-image img')?.naturalWidth > 0"
    )
    sent = [r for r in scripted_media.requests if r["path"] == "/v1/images/generations"]
    assert [r["json"]["prompt"] for r in sent] == ["a red square"]
    assert not toggle.is_checked()  # for one message only
    img.click()
    assert "jp-mod-expanded" in (figure.get_attribute("class") or "")
    screenshot(page, "images-01-generated")

    # No notebook open: a clear message, nothing inserted.
    figure.get_by_role("button", name="Insert into notebook").click()
    page.locator(".jp-Notification-Status").click()  # the notification center lists it
    page.get_by_text(
        "Open a notebook first: the image goes below its active cell."
    ).first.wait_for()
    page.keyboard.press("Escape")

    _empty_notebook(images_lab, "pictures.ipynb")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'pictures.ipynb'})"
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for()
    figure.get_by_role("button", name="Insert into notebook").click()
    page.wait_for_function(f"() => ({NOTEBOOK_CELLS})('pictures.ipynb')?.length === 2")
    cells = page.evaluate(f"() => ({NOTEBOOK_CELLS})('pictures.ipynb')")
    assert cells[0]["source"] == "x = 1"
    (output,) = cells[1]["outputs"]
    assert output["output_type"] == "display_data"
    assert set(output["data"]) == {"image/png"}
    data = output["data"]["image/png"]
    assert base64.b64decode("".join(data) if isinstance(data, list) else data) == PNG
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedImage img").first.wait_for()
    screenshot(page, "images-02-inserted")
