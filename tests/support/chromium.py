"""The Chromium the browser tests and benchmarks drive, and how it is started."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("OUI_CHROMIUM", "/usr/bin/chromium")
#: headless on a machine with no sandbox, GPU or network beyond localhost
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a fake microphone (a tone), allowed without a prompt: dictation tests record from it
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
