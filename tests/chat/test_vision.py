"""Images in turns: a notebook's plot reaches a vision model as an ``image_url`` part, the
chat keeps a file reference (never base64), a text-only model gets a clear 422, and the
limits hold."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support.png import noise_png, solid_png

from chat.helpers import scripted_settings, sse_text

pytestmark = pytest.mark.storage

MAX_IMAGE = 256 * 1024

PLOT_CELL = """
try:
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from IPython.display import Image, display
    import io
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 3, 2, 5]); ax.set_title("sales")
    buf = io.BytesIO(); fig.savefig(buf, format="png"); display(Image(buf.getvalue()))
except ImportError:  # no matplotlib in this kernel: a real PNG made by hand
    import struct, zlib
    from IPython.display import Image, display
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    w, h = 8, 6
    raw = b"".join(b"\\x00" + b"".join(bytes([30 * x, 40 * y, 90]) for x in range(w)) for y in range(h))
    head = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    display(Image(png))
"""


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(
        scripted_openai.base_url,
        openai_api_configs={"0": {"vision_model_ids": ["fast"]}},
        max_image_size=MAX_IMAGE,
        max_images_per_message=3,
    )


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def parts(text: str, *urls: str) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": text},
        *({"type": "image_url", "image_url": {"url": u}} for u in urls),
    ]


def upstream_images(request: dict[str, Any]) -> list[bytes]:
    """The images of the last message the upstream received, decoded."""
    found = []
    for part in request["messages"][-1]["content"]:
        if part["type"] == "image_url":
            url = part["image_url"]["url"]
            assert url.startswith("data:image/png;base64,"), url[:40]
            found.append(base64.b64decode(url.split(",", 1)[1]))
    return found


async def notebook_png(tmp_path: Any) -> bytes:
    """Execute a small notebook that plots; the PNG of its image output."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PLOT_CELL)]
    await NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).async_execute()
    images = [
        o["data"]["image/png"] for o in nb.cells[0].outputs if "image/png" in o.get("data", {})
    ]
    assert len(images) == 1, nb.cells[0].outputs
    return base64.b64decode(images[0])


async def new_chat(api: Any, model: str = "fast") -> str:
    r = await api("POST", "v1/chats/new", {"chat": {"title": "Plots", "models": [model]}})
    assert r.code == 200, r.body
    return r.json()["id"]


async def test_a_notebook_plot_reaches_the_vision_model_and_the_chat_keeps_a_file(
    api, scripted_openai, tmp_path
):
    png = await notebook_png(tmp_path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    chat_id = await new_chat(api)
    question = "What does this plot show?"
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "chat_id": chat_id,
            "stream": False,
            "messages": [{"role": "user", "content": parts(question, data_url(png))}],
        },
    )
    assert r.code == 200, r.body
    sent = scripted_openai.requests[-1]
    assert sent["messages"][-1]["content"][0] == {"type": "text", "text": question}
    assert upstream_images(sent) == [png]

    r = await api("GET", f"v1/chats/{chat_id}")
    assert r.code == 200
    assert "base64" not in r.body.decode() and png[:64].hex() not in r.body.decode()
    messages = r.json()["chat"]["history"]["messages"]
    user = next(m for m in messages.values() if m["role"] == "user")
    assert user["content"] == question
    (item,) = user["files"]
    assert item["type"] == "image" and item["url"] == f"/api/v1/files/{item['id']}/content"
    assert item["content_type"] == "image/png" and item["size"] == len(png)
    content = await api("GET", f"v1/files/{item['id']}/content")
    assert content.code == 200 and content.body == png

    # The next turn (the server reads the branch) sends the stored image again.
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "And the trend?"})
    assert r.code == 200, r.body
    history = scripted_openai.requests[-1]["messages"]
    first = history[-3]["content"]
    assert (
        first[0]["text"] == question
        and base64.b64decode(first[1]["image_url"]["url"].split(",", 1)[1]) == png
    )
    assert history[-1] == {"role": "user", "content": "And the trend?"}


async def test_every_completion_path_takes_images(api, scripted_openai):
    png = solid_png()
    # Without a chat (JSON and SSE).
    body = {"model": "fast", "messages": [{"role": "user", "content": parts("hi", data_url(png))}]}
    r = await api("POST", "chat/completions", {**body, "stream": False})
    assert r.code == 200, r.body
    assert upstream_images(scripted_openai.requests[-1]) == [png]
    r = await api("POST", "chat/completions", {**body, "stream": True})
    assert r.code == 200 and sse_text(r.body)
    assert upstream_images(scripted_openai.requests[-1]) == [png]
    # The sidebar's route, streaming, with an image uploaded first through the files API.
    upload = await api(
        "POST",
        "v1/files/",
        params={"process": "false"},
        raw=b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert upload.code == 200, upload.body
    file_id = upload.json()["id"]
    chat_id = await new_chat(api)
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": parts("look", f"/oui/api/v1/files/{file_id}/content"), "stream": True},
    )
    assert r.code == 200, r.body
    assert upstream_images(scripted_openai.requests[-1]) == [png]
    # Open WebUI's frontend: the image in user_message.files and in the message's parts.
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "stream": False,
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": parts("again", data_url(png))}],
            "user_message": {
                "id": "u-2",
                "content": "again",
                "files": [{"type": "image", "url": data_url(png)}],
            },
        },
    )
    assert r.code == 200, r.body
    assert upstream_images(scripted_openai.requests[-1]) == [png]
    stored = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert len(stored["u-2"]["files"]) == 1 and "base64" not in json.dumps(stored)


async def test_a_text_only_model_gets_a_clear_422_and_nothing_is_saved(api, scripted_openai):
    chat_id = await new_chat(api, "slow")
    image = parts("what is it?", data_url(solid_png()))
    for path, body in [
        ("chat/completions", {"model": "slow", "messages": [{"role": "user", "content": image}]}),
        (
            "chat/completions",
            {"model": "slow", "chat_id": chat_id, "messages": [{"role": "user", "content": image}]},
        ),
        (f"v1/chats/{chat_id}/message", {"content": image, "model": "slow"}),
    ]:
        r = await api("POST", path, body)
        assert r.code == 422, r.body
        assert r.json()["message"] == "model slow does not accept images; choose a vision model"
    assert scripted_openai.requests == []
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    assert chat["history"]["messages"] == {}
    listed = {m["id"]: m for m in (await api("GET", "models")).json()["data"]}
    assert listed["fast"]["info"]["meta"]["capabilities"]["vision"] is True
    assert listed["slow"]["info"]["meta"]["capabilities"]["vision"] is False


async def test_a_custom_model_may_see_images_and_earlier_images_become_a_note(api, scripted_openai):
    form = {
        "id": "eyes",
        "name": "Eyes",
        "base_model_id": "slow",
        "meta": {"capabilities": {"vision": True}},
    }
    created = await api("POST", "v1/models/create", form)
    assert created.code == 200, created.body
    chat_id = await new_chat(api, "eyes")
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": parts("see", data_url(solid_png()))}
    )
    assert r.code == 200, r.body
    assert upstream_images(scripted_openai.requests[-1]) == [solid_png()]
    # A text-only model later in the chat: the earlier image is a note, not silently dropped.
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "words", "model": "slow"})
    assert r.code == 200, r.body
    earlier = scripted_openai.requests[-1]["messages"][-3]["content"]
    assert earlier[0] == {"type": "text", "text": "see"}
    assert "does not see images" in earlier[1]["text"]


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (parts("x", *(data_url(solid_png(w)) for w in (4, 5, 6, 7))), 422, "may carry 3 images"),
        (parts("x", data_url(solid_png()), data_url(b"not one")), 422, "image 2 is not a PNG"),
        (parts("x", "data:image/png,raw"), 422, "must be base64"),
        (parts("x", "data:image/png;base64,%%%"), 422, "not valid base64"),
        (parts("x", "https://example.com/cat.png"), 422, "other URLs are not fetched"),
        (parts("x", data_url(noise_png(MAX_IMAGE + 50_000))), 413, f"limit is {MAX_IMAGE}"),
        ([{"type": "image_url", "image_url": {}}], 422, "needs image_url.url"),
        (parts("x", "/api/v1/files/nope/content"), 404, "not found"),
    ],
    ids=["count", "magic", "not-base64", "bad-base64", "remote", "size", "no-url", "no-file"],
)
async def test_image_limits(api, scripted_openai, content, status, words):
    chat_id = await new_chat(api)
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": content})
    assert r.code == status, r.body
    assert words in r.json()["message"]
    assert scripted_openai.requests == []
    assert (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"] == {}
    assert (await api("GET", "v1/files/")).json() == []  # nothing saved, not even image 1
