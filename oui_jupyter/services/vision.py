"""Images in chat turns, as OpenAI ``image_url`` content parts.

A new user message's images come as ``data:`` URLs or as uploads of this server (a part's URL
``/api/v1/files/<id>/content``, or Open WebUI's ``files: [{type: "image", url}]`` items). They
are checked (PNG, JPEG, GIF or WebP by their first bytes; a size and a count limit) and saved
through the files service; the message row keeps file references, never base64. When the
upstream request is built, each image of the prompt becomes a ``data:`` URL again, read in a
worker thread. Only models that see images get them: the new message's images to a text-only
model are refused (``InvalidInput``), earlier messages' images become a one-line note.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, NotFound, PayloadTooLarge
from oui_jupyter.services.message_text import text_of

if TYPE_CHECKING:
    from oui_jupyter.services.models import ResolvedModel
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.users import UserInfo

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
# A file of this server, as Open WebUI writes it (any prefix: ``/oui``, a base URL, a host).
_FILE_URL = re.compile(r"(?:^|/)api/v1/files/(?P<id>[A-Za-z0-9_-]{1,64})(?:/content)?/?$")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+/-]*)(?P<params>(?:;[^,;]*)*),", re.ASCII)
NOT_SHOWN = "[an image: not shown, the model does not see images]"
OVER_BUDGET = "[an earlier image: left out, the request holds enough images]"


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its first bytes (None: not one we accept)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_url(file_id: str) -> str:
    """How a message refers to a saved image (Open WebUI's file content URL)."""
    return f"/api/v1/files/{file_id}/content"


def file_id_of(url: str) -> str | None:
    match = _FILE_URL.search(url.split("?", 1)[0])
    return match["id"] if match else None


def is_image_item(item: Any) -> bool:
    """An Open WebUI ``files`` item that is an image (``{type: "image", url}``)."""
    return isinstance(item, dict) and item.get("type") == "image"


def _part_url(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise InvalidInput("an image_url part needs image_url.url (a data: URL or a file URL)")
    return url


def image_urls(content: Any) -> list[str]:
    """The URLs of the ``image_url`` parts of a message's content."""
    if not isinstance(content, list):
        return []
    return [url for part in content if (url := _part_url(part)) is not None]


def has_images(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "image_url" for p in content
    )


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def row_content(row: dict[str, Any]) -> Any:
    """A stored message's content for a prompt: its text, and its saved images as parts."""
    items = [f for f in (row.get("extra") or {}).get("files") or [] if is_image_item(f)]
    urls = [str(f["url"]) for f in items if isinstance(f.get("url"), str)]
    if not urls or row.get("role") != "user":
        return row["content"]
    return [{"type": "text", "text": row["content"] or ""}, *(image_part(u) for u in urls)]


def with_text(content: Any, text: str) -> Any:
    """``content`` with its text replaced by ``text`` (its images kept, after it)."""
    if not has_images(content):
        return text
    images = (p for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return [{"type": "text", "text": text}, *images]


@dataclass(frozen=True)
class ImageLimits:
    per_message: int = 8
    max_bytes: int = 5 * 1024 * 1024
    per_request: int = 16


@dataclass
class SavedImages:
    """A new user message's images once saved."""

    content: list[dict[str, Any]]  # its content for the prompt: text, then file-URL parts
    files: list[dict[str, Any]]  # its ``files`` items to store: the images as file references
    # file id -> its data: URL as it came (checked): sent without encoding the bytes again
    data_urls: dict[str, str] = field(default_factory=dict)


class VisionService:
    def __init__(self, files: FileService, limits: ImageLimits | None = None) -> None:
        self.files = files
        self.limits = limits or ImageLimits()

    @staticmethod
    def require_vision(model: ResolvedModel) -> None:
        if not model.vision:
            raise InvalidInput(f"model {model.id} does not accept images; choose a vision model")

    def check_new(self, model: ResolvedModel, content: Any, items: list[Any]) -> None:
        """Refuse a new message's images before anything is written (a text-only model)."""
        if has_images(content) or any(is_image_item(i) for i in items):
            self.require_vision(model)

    # ----- a new user message -----
    async def save_new(
        self, user: UserInfo, model: ResolvedModel, content: Any, items: list[Any]
    ) -> SavedImages | None:
        """Save the images of a new user message (its content's parts and its image
        ``items``); None when it has none."""
        urls = list(dict.fromkeys([*image_urls(content), *_item_urls(items)]))
        if not urls:
            return None
        self.require_vision(model)
        if len(urls) > self.limits.per_message:
            raise InvalidInput(
                f"a message may carry {self.limits.per_message} images; this one has {len(urls)}"
            )
        return await asyncio.to_thread(self._save, user, content, urls, items)

    def _save(self, user: UserInfo, content: Any, urls: list[str], items: list[Any]) -> SavedImages:
        # Every image is checked before any is saved: a refused message leaves no uploads.
        decoded = {u: self.decode(u, n) for n, u in enumerate(urls, 1) if u.startswith("data:")}
        known = {
            u: self.files.get(self._file_id(u, n), user)
            for n, u in enumerate(urls, 1)
            if u not in decoded
        }
        saved: dict[str, dict[str, Any]] = {}
        data_urls: dict[str, str] = {}
        for n, url in enumerate(urls, 1):
            if url in decoded:
                mime, raw = decoded[url]
                upload = self.files.upload(
                    user,
                    f"image-{n}.{EXTENSIONS[mime]}",
                    raw,
                    mime,
                    process=False,
                    meta={"source": "chat image"},
                )
                data_urls[upload["id"]] = f"data:{mime};base64,{url.partition(',')[2]}"
                saved[url] = _item(upload["id"], upload["filename"], mime, len(raw))
            else:
                row = known[url]
                meta = row["meta"]
                saved[url] = _item(row["id"], row["filename"], meta["content_type"], meta["size"])
        parts = [
            {"type": "text", "text": text_of(content)},
            *(image_part(saved[u]["url"]) for u in urls),
        ]
        others = [i for i in items if not is_image_item(i)]
        return SavedImages(parts, [*others, *saved.values()], data_urls)

    def decode(self, url: str, n: int) -> tuple[str, bytes]:
        """The type and bytes of a ``data:`` URL image, checked against the limits."""
        match = _DATA_URL.match(url)
        if match is None or ";base64" not in match["params"]:
            raise InvalidInput(f"image {n}: a data: URL must be base64 (data:image/png;base64,...)")
        encoded = url[match.end() :]
        if len(encoded) // 4 * 3 > self.limits.max_bytes + 3:
            raise PayloadTooLarge(
                f"image {n} is about {len(encoded) // 4 * 3} bytes; the limit is "
                f"{self.limits.max_bytes} per image"
            )
        try:
            raw = _b64decode(encoded)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"image {n}: the data: URL is not valid base64") from None
        if len(raw) > self.limits.max_bytes:
            raise PayloadTooLarge(
                f"image {n} is {len(raw)} bytes; the limit is {self.limits.max_bytes} per image"
            )
        mime = sniff(raw)
        if mime is None:
            raise InvalidInput(f"image {n} is not a PNG, JPEG, GIF or WebP image")
        return mime, raw

    @staticmethod
    def _file_id(url: str, n: int) -> str:
        file_id = file_id_of(url)
        if file_id is None:
            raise InvalidInput(
                f"image {n}: image_url.url must be a data: URL or a file of this server "
                "(/api/v1/files/<id>/content); other URLs are not fetched"
            )
        return file_id

    # ----- the upstream request -----
    async def inline(
        self,
        user: UserInfo,
        model: ResolvedModel,
        messages: list[dict[str, Any]],
        known: SavedImages | None = None,
    ) -> list[dict[str, Any]]:
        """The prompt with each image a ``data:`` URL (a text-only model: ``InvalidInput``
        for the last user message's, a note for earlier ones)."""
        if not any(has_images(m.get("content")) for m in messages):
            return messages
        last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        if last >= 0 and has_images(messages[last].get("content")):
            self.require_vision(model)
        return await asyncio.to_thread(self._inline, user, model, messages, last, known)

    def _inline(
        self,
        user: UserInfo,
        model: ResolvedModel,
        messages: list[dict[str, Any]],
        last: int,
        known: SavedImages | None,
    ) -> list[dict[str, Any]]:
        budget = self.limits.per_request
        out = list(messages)
        for i in range(len(out) - 1, -1, -1):
            content = out[i].get("content")
            if not isinstance(content, list) or not has_images(content):
                continue
            if i == last and len(image_urls(content)) > self.limits.per_message:
                raise InvalidInput(f"a message may carry {self.limits.per_message} images")
            parts: list[dict[str, Any]] = []
            n = 0
            for part in content:
                url = _part_url(part)
                if url is not None:
                    n += 1
                if url is None:
                    parts.append(part)
                elif not model.vision:
                    parts.append({"type": "text", "text": NOT_SHOWN})
                elif budget <= 0:
                    parts.append({"type": "text", "text": OVER_BUDGET})
                else:
                    budget -= 1
                    parts.append(self._inlined(user, part, url, n, known))
            out[i] = {**out[i], "content": parts}
        return out

    def _inlined(
        self, user: UserInfo, part: dict[str, Any], url: str, n: int, known: SavedImages | None
    ) -> dict[str, Any]:
        if url.startswith("data:"):
            self.decode(url, n)  # checked, sent as it came
            return part
        file_id = self._file_id(url, n)
        if known is not None and file_id in known.data_urls:
            data_url = known.data_urls[file_id]
        else:
            try:
                raw, _type, _name = self.files.content(file_id, user)
            except NotFound:
                raise InvalidInput(f"image {n}: file {file_id} is gone") from None
            mime = sniff(raw) or ""
            if not mime:
                raise InvalidInput(f"image {n}: file {file_id} is not a PNG, JPEG, GIF or WebP")
            data_url = f"data:{mime};base64,{base64.b64encode(raw).decode()}"
        detail = part["image_url"].get("detail") if isinstance(part["image_url"], dict) else None
        inlined: dict[str, Any] = {"url": data_url}
        if isinstance(detail, str):
            inlined["detail"] = detail
        return {"type": "image_url", "image_url": inlined}


def _b64decode(text: str) -> bytes:
    """Strict base64 (any other character is an error), in one pass where Python can."""
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(text, strict_mode=True)
    return base64.b64decode(text, validate=True)


def _item_urls(items: list[Any]) -> Iterator[str]:
    for item in items:
        if is_image_item(item):
            url = item.get("url")
            if not isinstance(url, str) or not url:
                raise InvalidInput("an image file item needs a url")
            yield url


def _item(file_id: str, name: str, content_type: str, size: int) -> dict[str, Any]:
    """Open WebUI's image file item, pointing at the saved file."""
    return {
        "type": "image",
        "id": file_id,
        "url": file_url(file_id),
        "name": name,
        "content_type": content_type,
        "size": size,
    }
