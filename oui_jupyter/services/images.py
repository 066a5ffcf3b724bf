"""Image generation through an OpenAI-compatible ``/images/generations`` endpoint; each image
is saved as an upload of the caller (the files API), so chats hold file URLs, not base64.

An answer is trusted for nothing: each result must be base64 or an http(s) URL, and its
bytes a PNG, JPEG, GIF or WebP image (by their first bytes), stored with that content type.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import NotReady, OuiError, ProviderError
from oui_jupyter.image_types import EXTENSIONS, image_type
from oui_jupyter.providers import media_settings as ms
from oui_jupyter.providers.media import MediaUpstream
from oui_jupyter.services.media_config import StoredSettings

if TYPE_CHECKING:
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.users import UserInfo

DEFAULT_MODEL = "dall-e-2"
OPENAI_MODELS = ("dall-e-2", "dall-e-3", "gpt-image-1")
SETUP = (
    "an admin sets it in oui/api/v1/images/config/update, or the server is started with "
    "ENABLE_IMAGE_GENERATION=true and IMAGES_OPENAI_API_BASE_URL (or an OpenAI connection)"
)


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(
            "The images server answered an image that is not base64", reason="upstream_bad_image"
        ) from None


class ImageService:
    def __init__(
        self,
        settings: StoredSettings,
        upstream: MediaUpstream,
        files: FileService,
        *,
        max_image_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.files = files
        self.max_image_bytes = max_image_bytes

    # ----- admin settings (blocking: database reads) -----
    def config(self, user: UserInfo) -> dict[str, Any]:
        return {**self.settings.form(user, ms.IMAGES_FIELDS), "prompt_generation": False}

    def update_config(self, user: UserInfo, raw: Any) -> dict[str, Any]:
        shown = self.settings.update(user, raw, ms.IMAGES_FIELDS)
        return {**shown, "prompt_generation": False}

    def image_config(self, user: UserInfo) -> dict[str, Any]:
        return self.settings.form(user, ms.IMAGE_FIELDS)

    def update_image_config(self, user: UserInfo, raw: Any) -> dict[str, Any]:
        return self.settings.update(user, raw, ms.IMAGE_FIELDS)

    def available(self) -> bool:
        """From the last read: whether generation is on and has an endpoint (for the UI)."""
        settings, first = self.settings.last
        return bool(settings["ENABLE_IMAGE_GENERATION"]) and (
            ms.setting_endpoint(settings, "IMAGES_OPENAI_API_BASE_URL", first) is not None
        )

    def target(self) -> tuple[ms.Endpoint, dict[str, Any]]:
        """The endpoint to call and the settings; ``NotReady`` (503) saying what to set."""
        settings, first = self.settings.load()
        if not settings["ENABLE_IMAGE_GENERATION"]:
            raise NotReady(f"Image generation is off: {SETUP}", reason="images_off")
        found = ms.setting_endpoint(settings, "IMAGES_OPENAI_API_BASE_URL", first)
        if found is None:
            raise NotReady(
                f"Image generation has no endpoint: {SETUP}", reason="images_no_endpoint"
            )
        return found, settings

    # ----- use -----
    async def models(self, user: UserInfo) -> list[dict[str, str]]:
        """The endpoint's models (its ``/models``), else OpenAI's image models; the
        configured model first."""
        found, settings = await asyncio.to_thread(self.target)
        ids: list[str] = []
        try:
            listed = await self.upstream.get_json(found, "models", timeout=3.0)
            data = listed.get("data") if isinstance(listed, dict) else None
            ids = [str(m["id"]) for m in data or [] if isinstance(m, dict) and m.get("id")]
        except OuiError:  # no /models there (or it failed): OpenAI's names
            pass
        ids = ids or list(OPENAI_MODELS)
        configured = settings["IMAGE_GENERATION_MODEL"]
        if configured:
            ids = [configured, *(i for i in ids if i != configured)]
        return [{"id": i, "name": i} for i in ids]

    async def generate(
        self,
        user: UserInfo,
        prompt: str,
        *,
        model: str | None = None,
        size: str | None = None,
        n: int = 1,
    ) -> list[dict[str, Any]]:
        """Generate ``n`` images; the uploads made of them (Open WebUI's file shape)."""
        found, settings = await asyncio.to_thread(self.target)
        model = model or settings["IMAGE_GENERATION_MODEL"] or DEFAULT_MODEL
        body: dict[str, Any] = {
            "model": model,
            "prompt": prompt,
            "n": n,
            "size": size or settings["IMAGE_SIZE"],
        }
        if not model.startswith("gpt-image"):  # those always answer base64 and refuse the field
            body["response_format"] = "b64_json"
        limit = n * (self.max_image_bytes * 4 // 3 + 1024) + 64 * 1024
        answer = await self.upstream.post_json(found, "images/generations", body, limit)
        items = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(items, list) or not items:
            raise ProviderError(
                f"The images server at {found.base_url} answered no images",
                reason="upstream_no_images",
            )
        saved = []
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for index, item in enumerate(items[:n]):
            data = await self._image_bytes(item)
            kind = image_type(data)
            if kind is None:
                raise ProviderError(
                    "The images server answered something that is not a PNG, JPEG, GIF or "
                    "WebP image",
                    reason="upstream_bad_image",
                )
            content_type, ext = kind, EXTENSIONS[kind]
            saved.append(
                await asyncio.to_thread(
                    self.files.upload,
                    user,
                    f"image-{stamp}-{index + 1}.{ext}",
                    data,
                    content_type,
                    process=False,
                    meta={"generated": {"prompt": prompt[:1000], "model": model}},
                )
            )
        return saved

    async def _image_bytes(self, item: Any) -> bytes:
        if not isinstance(item, dict):
            raise ProviderError("The images server answered an image that is not an object")
        if isinstance(item.get("b64_json"), str):
            data = await asyncio.to_thread(_b64, item["b64_json"])
        elif isinstance(item.get("url"), str):
            url = item["url"]
            if url.startswith("data:") and ";base64," in url:
                data = await asyncio.to_thread(_b64, url.split(";base64,", 1)[1])
            else:
                data, _ = await self.upstream.get_bytes(url, self.max_image_bytes)
        else:
            raise ProviderError(
                "The images server answered an image with neither b64_json nor url",
                reason="upstream_bad_image",
            )
        if len(data) > self.max_image_bytes:
            raise ProviderError(
                f"The images server answered an image over {self.max_image_bytes} bytes",
                reason="upstream_too_large",
            )
        return data
