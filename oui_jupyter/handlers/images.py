"""Image generation routes (``oui/api/v1/images/...``), Open WebUI shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.media import (
    GeneratedImage,
    GenerateImageForm,
    ImageConfig,
    ImageModel,
    ImagesConfig,
)

if TYPE_CHECKING:
    from oui_jupyter.services.images import ImageService


class ImagesHandler(OuiHandler):
    @property
    def images(self) -> ImageService:
        return self.services.images


class ImagesConfigHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Image generation: on or off and its endpoint, key redacted (admins)",
            response=ImagesConfig,
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.images.config(self.user)))


class ImagesConfigUpdateHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change image generation's settings (admins): the fields named replace the stored "
            "ones (none named: 422); '' as the base URL follows the first OpenAI connection; "
            "a redacted key sent as shown keeps the stored key",
            body=ImagesConfig,
            response=ImagesConfig,
            body_needs_one_of=("enabled", "engine", "openai"),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(ImagesConfig)
        raw = self.parse_json()
        self.write_json(await self.off_loop(lambda: self.images.update_config(self.user, raw)))


class ImageConfigHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The default model, size and steps (admins)", response=ImageConfig)
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.images.image_config(self.user)))


class ImageConfigUpdateHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change the default model, size and steps (admins; none named: 422)",
            body=ImageConfig,
            response=ImageConfig,
            body_needs_one_of=("MODEL", "IMAGE_SIZE", "IMAGE_STEPS"),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(ImageConfig)
        raw = self.parse_json()
        self.write_json(
            await self.off_loop(lambda: self.images.update_image_config(self.user, raw))
        )


class ImageModelsHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "The image models of the endpoint (503 when image generation is off)",
            response=list[ImageModel],
            statuses=(503,),
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.images.models(self.user))


class ImageGenerationsHandler(ImagesHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Generate images: each is saved as one of your files; their URLs (files API). "
            "503 when image generation is off or has no endpoint",
            body=GenerateImageForm,
            response=list[GeneratedImage],
            statuses=(429, 502, 503, 504),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(GenerateImageForm)
        saved = await self.images.generate(
            self.user, form.prompt, model=form.model, size=form.size, n=form.n
        )
        self.write_json([{"url": self.content_url(f["id"])} for f in saved])

    def content_url(self, file_id: str) -> str:
        return url_path_join(self.base_url, "oui", "api", "v1", "files", file_id, "content")
