"""Settings of the images and audio endpoints: Open WebUI's variables, its admin forms, and
the first OpenAI connection as the default endpoint.

Settings are flat dicts under Open WebUI's variable names (``IMAGES_OPENAI_API_BASE_URL``,
``AUDIO_STT_ENGINE``...). The admin forms (``oui/api/v1/images/config``,
``v1/images/image/config``, ``v1/audio/config``) read and write Open WebUI's nested shapes,
described once here as fields (form path, setting, kind). An empty base URL follows the first
OpenAI connection, and so does an empty key, but only while the URL is that connection's: a
connection's key is never sent to another host. Keys are shown redacted, and a redacted key
sent back keeps the stored one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oui_jupyter.errors import InvalidInput
from oui_jupyter.providers.connections import Connection, is_redacted, redact

IMAGES_DEFAULTS: dict[str, Any] = {
    "ENABLE_IMAGE_GENERATION": False,
    "IMAGE_GENERATION_ENGINE": "openai",
    "IMAGES_OPENAI_API_BASE_URL": "",
    "IMAGES_OPENAI_API_KEY": "",
    "IMAGE_GENERATION_MODEL": "",
    "IMAGE_SIZE": "512x512",
    "IMAGE_STEPS": 50,
}

AUDIO_DEFAULTS: dict[str, Any] = {
    "AUDIO_STT_ENGINE": "",
    "AUDIO_STT_OPENAI_API_BASE_URL": "",
    "AUDIO_STT_OPENAI_API_KEY": "",
    "AUDIO_STT_MODEL": "whisper-1",
    "AUDIO_TTS_ENGINE": "",
    "AUDIO_TTS_OPENAI_API_BASE_URL": "",
    "AUDIO_TTS_OPENAI_API_KEY": "",
    "AUDIO_TTS_MODEL": "tts-1",
    "AUDIO_TTS_VOICE": "alloy",
}

#: a form field: where it sits in the form, the setting it is, and its kind
Field = tuple[tuple[str, ...], str, str]

IMAGES_FIELDS: tuple[Field, ...] = (
    (("enabled",), "ENABLE_IMAGE_GENERATION", "bool"),
    (("engine",), "IMAGE_GENERATION_ENGINE", "images_engine"),
    (("openai", "OPENAI_API_BASE_URL"), "IMAGES_OPENAI_API_BASE_URL", "url"),
    (("openai", "OPENAI_API_KEY"), "IMAGES_OPENAI_API_KEY", "key"),
)
IMAGE_FIELDS: tuple[Field, ...] = (
    (("MODEL",), "IMAGE_GENERATION_MODEL", "str"),
    (("IMAGE_SIZE",), "IMAGE_SIZE", "size"),
    (("IMAGE_STEPS",), "IMAGE_STEPS", "steps"),
)
AUDIO_FIELDS: tuple[Field, ...] = (
    (("stt", "ENGINE"), "AUDIO_STT_ENGINE", "engine"),
    (("stt", "OPENAI_API_BASE_URL"), "AUDIO_STT_OPENAI_API_BASE_URL", "url"),
    (("stt", "OPENAI_API_KEY"), "AUDIO_STT_OPENAI_API_KEY", "key"),
    (("stt", "MODEL"), "AUDIO_STT_MODEL", "str"),
    (("tts", "ENGINE"), "AUDIO_TTS_ENGINE", "engine"),
    (("tts", "OPENAI_API_BASE_URL"), "AUDIO_TTS_OPENAI_API_BASE_URL", "url"),
    (("tts", "OPENAI_API_KEY"), "AUDIO_TTS_OPENAI_API_KEY", "key"),
    (("tts", "MODEL"), "AUDIO_TTS_MODEL", "str"),
    (("tts", "VOICE"), "AUDIO_TTS_VOICE", "str"),
)

SIZE = re.compile(r"^(auto|\d{2,5}x\d{2,5})$")
TEXT = re.compile(r"^[^\x00-\x1f\x7f]{0,255}$")
MAX_KEY_LENGTH = 1024
TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible base URL and its key (secret: never logged nor returned)."""

    base_url: str
    key: str = field(default="", repr=False)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


def first_connection(connections: list[Connection]) -> Connection | None:
    """The connection an empty endpoint follows: the first enabled OpenAI connection."""
    return next((c for c in connections if c.enabled and not c.local), None)


def endpoint(url: str, key: str, first: Connection | None) -> Endpoint | None:
    """The endpoint of a base-URL/key pair of settings (``None``: nothing to call)."""
    url = url.rstrip("/")
    if not url:
        if first is None:
            return None
        return Endpoint(first.base_url.rstrip("/"), key or first.key)
    if not key and first is not None and url == first.base_url.rstrip("/"):
        key = first.key
    return Endpoint(url, key)


def _url_setting(key_setting: str) -> str:
    return key_setting.removesuffix("_KEY") + "_BASE_URL"


def setting_endpoint(
    settings: Mapping[str, Any], url_setting: str, first: Connection | None
) -> Endpoint | None:
    key_setting = url_setting.removesuffix("_BASE_URL") + "_KEY"
    return endpoint(str(settings[url_setting]), str(settings[key_setting]), first)


# ----- from the environment and traitlets -----
def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).strip().lower() in TRUE
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return default
    return str(value).strip()


def from_env(defaults: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict:
    """``defaults`` with the variables of the same names that are set in the environment."""
    env = os.environ if environ is None else environ
    return {name: _coerce(env[name], d) if name in env else d for name, d in defaults.items()}


def normalize(raw: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Stored or configured settings over ``defaults`` (unknown names dropped)."""
    raw = raw if isinstance(raw, dict) else {}
    return {name: _coerce(raw[name], d) if name in raw else d for name, d in defaults.items()}


# ----- the admin forms -----
def _effective(
    settings: Mapping[str, Any], setting: str, kind: str, first: Connection | None
) -> Any:
    if kind not in ("url", "key"):
        return settings[setting]
    url_setting = setting if kind == "url" else _url_setting(setting)
    found = setting_endpoint(settings, url_setting, first)
    if found is None:
        return ""
    return found.base_url if kind == "url" else redact(found.key)


def form(
    settings: Mapping[str, Any], fields: tuple[Field, ...], first: Connection | None
) -> dict[str, Any]:
    """The settings as the admin form shows them: endpoints as used (a default shown as the
    connection it follows), keys redacted."""
    shown: dict[str, Any] = {}
    for path, setting, kind in fields:
        node = shown
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _effective(settings, setting, kind, first)
    return shown


def _named(raw: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = raw
    for part in path:
        if not isinstance(node, dict) or node.get(part) is None:
            return False, None
        node = node[part]
    return True, node


def _check(value: Any, kind: str, where: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInput(f"{where} must be true or false")
        return value
    if kind == "steps":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            raise InvalidInput(f"{where} must be an integer from 1 to 1000")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string")
    value = value.strip()
    if kind in ("engine", "images_engine"):
        allowed = ("openai",) if kind == "images_engine" else ("openai", "")
        if value not in allowed:
            off = "" if kind == "images_engine" else " or '' (off)"
            raise InvalidInput(f"{where} must be 'openai'{off}: the only engine here")
    elif kind == "url":
        if value and not value.startswith(("http://", "https://")):
            raise InvalidInput(f"{where} must be an http(s) URL, or '' for the first connection's")
        value = value.rstrip("/")
    elif kind == "key":
        if len(value) > MAX_KEY_LENGTH or not TEXT.match(value[:255]):
            raise InvalidInput(f"{where} must be a key of at most {MAX_KEY_LENGTH} characters")
    elif kind == "size":
        if not SIZE.match(value):
            raise InvalidInput(f"{where} must look like 1024x1024 (or auto)")
    elif not TEXT.match(value):
        raise InvalidInput(f"{where} must be at most 255 characters, without control characters")
    return value


def merge(
    raw: Any,
    old: Mapping[str, Any],
    fields: tuple[Field, ...],
    first: Connection | None,
) -> dict[str, Any]:
    """The settings after the admin form's update ``raw``: the fields it names (not null)
    replace the stored ones; a form naming none is refused. A URL sent as shown for a default
    keeps following it; a redacted key sent as shown keeps the stored key, and any other
    redacted key is refused (it would be stored as the key)."""
    if not isinstance(raw, dict):
        raise InvalidInput("the settings must be an object")
    new = dict(old)
    named = 0
    for path, setting, kind in fields:
        present, value = _named(raw, path)
        if not present:
            continue
        named += 1
        where = ".".join(path)
        value = _check(value, kind, where)
        if kind == "url" and old[setting] == "" and value == _effective(old, setting, kind, first):
            continue
        if kind == "key" and is_redacted(value):
            if value != _effective(old, setting, kind, first):
                raise InvalidInput(
                    f"{where} is a redacted key that matches no stored key: send the key itself"
                )
            continue
        new[setting] = value
    if not named:
        names = ", ".join(".".join(path) for path, _, _ in fields)
        raise InvalidInput(f"nothing to update: name at least one of {names}")
    return new
