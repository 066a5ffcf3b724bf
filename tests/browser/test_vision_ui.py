"""Images from notebook outputs into the chat: "Ask about This Output" on an image output and
the composer's attach-output button attach it (uploaded, a thumbnail), and the turn sends it
as an ``image_url`` part of this server's file URL."""

from __future__ import annotations

import base64
import json
from typing import Any

from support.png import solid_png

from .conftest import LabServer, open_sidebar, screenshot
from .fake_backend import FakeBackend

PNG = solid_png(64, 40, (20, 120, 220))


def _plot_notebook(server: LabServer, name: str) -> None:
    """A notebook whose one cell already shows a PNG (as a plot would): no kernel needed."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "id": "plot-cell",
                "metadata": {},
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {
                            "image/png": base64.b64encode(PNG).decode(),
                            "text/plain": "<Figure size 64x40>",
                        },
                        "metadata": {},
                    }
                ],
                "source": "plt.plot(sales)",
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (server.root_dir / name).write_text(json.dumps(nb))


def test_ask_about_this_output_attaches_the_image_and_sends_it(
    fake_page: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    page = fake_page
    _plot_notebook(lab_server, "plots.ipynb")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'plots.ipynb'})"
    )
    image = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedImage img").first
    image.wait_for()
    image.click(button="right")
    menu = page.locator(".lm-Menu")
    menu.get_by_text("Ask about This Output").wait_for()
    screenshot(page, "30-output-context-menu")
    menu.get_by_text("Ask about This Output").click()

    sidebar = open_sidebar(page)
    chip = sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip-image")
    chip.wait_for()
    thumb = chip.locator("img.jp-OuiThumbnail")
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiComposer-chips img.jp-OuiThumbnail')?.src.startsWith('blob:')"
    )
    assert thumb.evaluate("img => img.naturalWidth") == 64
    assert fake.uploads == ["plots-output.png"]
    (file_id,) = fake.upload_bytes
    assert fake.upload_bytes[file_id] == ("image/png", PNG)
    screenshot(page, "31-image-attached")

    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("What does this plot show?")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    content = turn.request["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "What does this plot show?"},
        {"type": "image_url", "image_url": {"url": f"/api/v1/files/{file_id}/content"}},
    ]
    assert [(f["type"], f["id"]) for f in turn.request["files"]] == [("image", file_id)]
    assert not sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip").count()
    # The user's message shows the image as a thumbnail.
    shown = sidebar.locator(".jp-OuiMessage-files img.jp-OuiThumbnail").first
    shown.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage-files img.jp-OuiThumbnail')?.src.startsWith('blob:')"
    )
    fake.stream(turn, ["A rising line."], page)
    sidebar.get_by_text("A rising line.").wait_for()

    # The composer's attach-output button takes the active cell's image output.
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.locator(
        ".jp-InputArea-prompt"
    ).click()
    sidebar.locator(".jp-OuiComposer-attachOutput").click()
    sidebar.locator(".jp-OuiComposer-chips .jp-OuiChip-image").wait_for()
    assert fake.uploads[-1] == "plots-cell1.png"
    screenshot(page, "32-attach-output")
