"""Dictation and read-aloud in the sidebar, against the scripted backend with audio on: the
microphone (Chromium's fake device) records into a multipart upload whose text lands in the
composer; an answer's Read aloud posts its text to the speech route. Off: neither shows."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import open_sidebar, screenshot
from .fake_backend import FakeBackend


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> FakeBackend:
    backend = FakeBackend()
    backend.audio = "no_audio" not in request.node.name
    return backend


def wait_for(page: Any, predicate: Any, timeout_s: float = 15.0) -> None:
    deadline = page.evaluate("() => Date.now()") + timeout_s * 1000
    while not predicate():
        if page.evaluate("() => Date.now()") > deadline:
            raise AssertionError("condition not met in time")
        page.wait_for_timeout(100)


def test_dictation_fills_the_composer_and_answers_are_read_aloud(
    fake_page: Any, fake: FakeBackend
) -> None:
    page = fake_page
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Please")
    sidebar.get_by_role("button", name="Dictate").click()
    stop = sidebar.get_by_role("button", name="Stop dictation")
    stop.wait_for(state="visible")
    page.wait_for_timeout(700)  # some of the fake microphone's tone
    stop.click()
    wait_for(page, lambda: box.input_value() == "Please dictated words")
    (sent,) = fake.transcriptions
    assert sent["content_type"].startswith("multipart/form-data; boundary=")
    assert sent["filename"].startswith("dictation.") and sent["file_type"].startswith("audio/")
    assert sent["size"] > 1000  # the recording itself
    sidebar.get_by_role("button", name="Dictate").wait_for(state="visible")
    screenshot(page, "audio-01-dictated")

    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["An answer ", "to read."], page)
    fake.finish(turn)
    sidebar.get_by_role("button", name="Read answer aloud").click()
    wait_for(page, lambda: len(fake.speeches) == 1)
    assert fake.speeches == [{"input": "An answer to read."}]


def test_no_audio_buttons_without_audio_on_the_server(fake_page: Any, fake: FakeBackend) -> None:
    page = fake_page
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Hello")
    box.press("Enter")
    turn = fake.wait_turn(page, 1)
    fake.stream(turn, ["Hi."], page)
    fake.finish(turn)
    sidebar.get_by_role("button", name="Regenerate answer").wait_for(state="visible")
    assert sidebar.get_by_role("button", name="Dictate").count() == 0
    assert sidebar.get_by_role("button", name="Read answer aloud").count() == 0
