"""What a fresh interpreter has imported after running some code (start-up cost checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run_and_report(code: str) -> Any:
    """Run ``code`` in a new interpreter; it must print one JSON value last, which is returned."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def modules_after(code: str) -> set[str]:
    """The modules imported once ``code`` has run in a new interpreter."""
    return set(
        run_and_report(code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n")
    )
