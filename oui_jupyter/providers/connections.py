"""OpenAI-compatible connections: from traitlets, from the environment, from the database.

A connection is a base URL, a key and optional per-connection settings (Open WebUI's
``OPENAI_API_CONFIGS`` entry: ``enable``, ``prefix_id``, ``model_ids``, ``tags``; and ours:
``vision`` / ``vision_model_ids``, the models that see images). The admin
form (``oui/api/v1/openai/config``) reads and writes Open WebUI's shape; keys never leave the
server in clear: they are shown redacted and a redacted key sent back means "keep it".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oui_jupyter.errors import InvalidInput

REDACTED_MARK = "…"


@dataclass(frozen=True)
class Connection:
    """One OpenAI-compatible upstream. ``key`` is secret: never log or return it."""

    idx: str
    base_url: str
    key: str = field(default="", repr=False)
    enabled: bool = True
    prefix_id: str = ""
    model_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    name: str = ""
    local: bool = False
    # Which of its models see images: all (``vision: true`` in its config) or those named in
    # ``vision_model_ids`` (upstream ids).
    vision: bool = False
    vision_model_ids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.base_url

    def sees_images(self, upstream_id: str) -> bool:
        return self.vision or upstream_id in self.vision_model_ids

    def public_id(self, upstream_id: str) -> str:
        return f"{self.prefix_id}.{upstream_id}" if self.prefix_id else upstream_id


def redact(key: str) -> str:
    """``sk-abcdef123456`` -> ``sk-a…3456``; short keys become the mark alone."""
    if not key:
        return ""
    if len(key) <= 12:
        return REDACTED_MARK
    return f"{key[:4]}{REDACTED_MARK}{key[-4:]}"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _ollama_v1(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Open WebUI's variables: ``OPENAI_API_BASE_URL(S)``, ``OPENAI_API_KEY(S)`` and
    ``OLLAMA_BASE_URL(S)`` (``;``-separated), as the admin form's shape.

    Unlike Open WebUI there is no default to api.openai.com: offline by default.
    """
    env = os.environ if environ is None else environ
    urls = _split(env.get("OPENAI_API_BASE_URLS")) or _split(env.get("OPENAI_API_BASE_URL"))
    keys = _split(env.get("OPENAI_API_KEYS")) or _split(env.get("OPENAI_API_KEY"))
    if urls and len(keys) < len(urls):
        keys = keys + [keys[-1] if len(keys) == 1 else ""] * (len(urls) - len(keys))
    ollama = _split(env.get("OLLAMA_BASE_URLS")) or _split(env.get("OLLAMA_BASE_URL"))
    urls = urls + [_ollama_v1(url) for url in ollama]
    keys = keys[: len(urls) - len(ollama)] + ["ollama"] * len(ollama)
    return {
        "ENABLE_OPENAI_API": True,
        "OPENAI_API_BASE_URLS": urls,
        "OPENAI_API_KEYS": keys,
        "OPENAI_API_CONFIGS": {},
    }


def normalize_settings(raw: Any) -> dict[str, Any]:
    """Validate the admin form's shape (lists of equal length, configs keyed by index)."""
    if not isinstance(raw, dict):
        raise InvalidInput("the connection settings must be an object")
    urls = raw.get("OPENAI_API_BASE_URLS", [])
    keys = raw.get("OPENAI_API_KEYS", [])
    configs = raw.get("OPENAI_API_CONFIGS", {}) or {}
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InvalidInput("OPENAI_API_BASE_URLS must be a list of strings")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidInput("OPENAI_API_KEYS must be a list of strings")
    if not isinstance(configs, dict) or not all(isinstance(c, dict) for c in configs.values()):
        raise InvalidInput("OPENAI_API_CONFIGS must be an object of objects")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"not an http(s) URL: {url!r}")
    keys = (keys + [""] * len(urls))[: len(urls)]
    return {
        "ENABLE_OPENAI_API": bool(raw.get("ENABLE_OPENAI_API", True)),
        "OPENAI_API_BASE_URLS": [u.rstrip("/") for u in urls],
        "OPENAI_API_KEYS": keys,
        "OPENAI_API_CONFIGS": {str(k): v for k, v in configs.items()},
    }


def connections_from_settings(settings: dict[str, Any]) -> list[Connection]:
    if not settings.get("ENABLE_OPENAI_API", True):
        return []
    configs = settings.get("OPENAI_API_CONFIGS", {})
    result = []
    for idx, (url, key) in enumerate(
        zip(settings["OPENAI_API_BASE_URLS"], settings["OPENAI_API_KEYS"], strict=False)
    ):
        config = configs.get(str(idx)) or configs.get(url) or {}
        result.append(
            Connection(
                idx=str(idx),
                base_url=url,
                key=key,
                enabled=bool(config.get("enable", True)),
                prefix_id=str(config.get("prefix_id") or ""),
                model_ids=tuple(str(m) for m in config.get("model_ids") or ()),
                tags=tuple(str(t) for t in config.get("tags") or ()),
                name=str(config.get("name") or ""),
                vision=config.get("vision") is True,
                vision_model_ids=tuple(str(m) for m in config.get("vision_model_ids") or ()),
            )
        )
    return result


def redacted_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "OPENAI_API_KEYS": [redact(k) for k in settings["OPENAI_API_KEYS"]]}


SETTINGS_FIELDS = (
    "ENABLE_OPENAI_API",
    "OPENAI_API_BASE_URLS",
    "OPENAI_API_KEYS",
    "OPENAI_API_CONFIGS",
)


def is_redacted(key: str) -> bool:
    return REDACTED_MARK in key


def merge_update(raw: Any, old: dict[str, Any]) -> dict[str, Any]:
    """The settings after the admin form's update ``raw``: the fields it names replace the
    stored ones, the others stay (a form naming none of them is refused: it would change
    nothing, or, read as a whole form, drop every connection). Keys are resolved by
    :func:`merge_keys`; without ``OPENAI_API_KEYS`` each URL keeps the key stored for it."""
    if not isinstance(raw, dict):
        raise InvalidInput("the connection settings must be an object")
    named = [name for name in SETTINGS_FIELDS if name in raw]
    if not named:
        raise InvalidInput(f"nothing to update: name at least one of {', '.join(SETTINGS_FIELDS)}")
    merged = {**old, **{name: raw[name] for name in named}}
    urls = merged["OPENAI_API_BASE_URLS"]
    if (
        "OPENAI_API_KEYS" not in raw
        and isinstance(urls, list)
        and all(isinstance(u, str) for u in urls)
    ):
        stored = dict(zip(old["OPENAI_API_BASE_URLS"], old["OPENAI_API_KEYS"], strict=False))
        urls = [url.rstrip("/") for url in urls]
        merged["OPENAI_API_KEYS"] = [redact(stored[url]) if url in stored else "" for url in urls]
    return merge_keys(normalize_settings(merged), old)


def merge_keys(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """Put the stored keys back where the admin form sent them redacted (``sk-F…3210``).

    A redacted key is the stored key of the same URL when that one redacts to it; else (the
    URL was edited) the stored key at the same index, when that one redacts to it. Anything
    else redacted matches no stored key and is refused: it would be stored as the key."""
    old_urls, old_keys = old["OPENAI_API_BASE_URLS"], old["OPENAI_API_KEYS"]
    by_url = dict(zip(old_urls, old_keys, strict=False))
    keys = []
    for idx, (url, key) in enumerate(
        zip(new["OPENAI_API_BASE_URLS"], new["OPENAI_API_KEYS"], strict=False)
    ):
        if is_redacted(key):
            if url in by_url and redact(by_url[url]) == key:
                key = by_url[url]
            elif idx < len(old_keys) and redact(old_keys[idx]) == key:
                key = old_keys[idx]
            else:
                raise InvalidInput(
                    f"OPENAI_API_KEYS[{idx}] is a redacted key that matches no stored key of "
                    "this connection (its URL or its place): send the key itself"
                )
        keys.append(key)
    return {**new, "OPENAI_API_KEYS": keys}
