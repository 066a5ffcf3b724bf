"""Small text helpers for labels in the dashboard and KML export."""

from __future__ import annotations

import re
import unicodedata


def slugify(name: str) -> str:
    """'Rufus the Brave' -> 'rufus-the-brave' (ASCII, lower case, dashes)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def truncate(label: str, width: int = 24) -> str:
    """Cut a label to width characters, ending with an ellipsis when cut."""
    return label if len(label) <= width else label[: width - 1] + "…"
