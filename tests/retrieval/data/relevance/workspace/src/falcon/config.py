"""Settings, read from config.toml next to the repository root."""

from __future__ import annotations

from pathlib import Path

import tomllib

DEFAULTS = {
    "data_dir": "data",
    "smtp_host": "smtp.example.org",
    "alerts_from": "falcon-bot@example.org",
    "alerts_to": "falcon-team@example.org",
}


def load(path: str = "config.toml") -> dict[str, str]:
    p = Path(path)
    values = dict(DEFAULTS)
    if p.exists():
        values.update(tomllib.loads(p.read_text()))
    return values


SETTINGS = load()
