"""Bodies of the images and audio routes (Open WebUI's shapes)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=255)]
Size = Annotated[str, msgspec.Meta(pattern=r"^(auto|\d{2,5}x\d{2,5})$")]


class ImagesOpenAIForm(msgspec.Struct):
    """The endpoint: '' for the first OpenAI connection's; the key redacted on read."""

    OPENAI_API_BASE_URL: str | None = None
    OPENAI_API_KEY: str | None = None


class ImagesConfig(msgspec.Struct):
    enabled: bool | None = None
    engine: Literal["openai"] | None = None
    prompt_generation: bool | None = None
    openai: ImagesOpenAIForm | None = None


class ImageConfig(msgspec.Struct):
    MODEL: Text | None = None
    IMAGE_SIZE: Size | None = None
    IMAGE_STEPS: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


class ImageModel(msgspec.Struct):
    id: str
    name: str


class GenerateImageForm(msgspec.Struct):
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=r"\S")]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    size: Size | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=4)] = 1
    negative_prompt: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class GeneratedImage(msgspec.Struct):
    """The image's bytes, at this server's files API."""

    url: str


class STTConfig(msgspec.Struct):
    ENGINE: Literal["openai", ""] | None = None
    OPENAI_API_BASE_URL: str | None = None
    OPENAI_API_KEY: str | None = None
    MODEL: Text | None = None


class TTSConfig(msgspec.Struct):
    ENGINE: Literal["openai", ""] | None = None
    OPENAI_API_BASE_URL: str | None = None
    OPENAI_API_KEY: str | None = None
    MODEL: Text | None = None
    VOICE: Text | None = None


class AudioConfig(msgspec.Struct):
    tts: TTSConfig | None = None
    stt: STTConfig | None = None


class SpeechForm(msgspec.Struct):
    """OpenAI's speech body; ``model`` is the configured one when an admin set it."""

    input: Annotated[str, msgspec.Meta(min_length=1)]
    model: Text | None = None
    voice: Text | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = None
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] | None = None


class Transcription(msgspec.Struct):
    text: str
