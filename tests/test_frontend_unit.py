"""The frontend's own unit tests (vitest: the event reducer, markdown, the API client) are part
of the suite: the README's test command runs them too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LABEXTENSION = Path(__file__).resolve().parent.parent / "labextension"


def test_vitest_suite_passes():
    npm = shutil.which("npm")
    assert npm, "npm is needed (setup installs Node.js' npm with the frontend build)"
    assert (LABEXTENSION / "node_modules").is_dir(), (
        "run scripts/setup.sh: it installs the frontend"
    )
    env = dict(
        os.environ,
        CI="true",
        NO_COLOR="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    result = subprocess.run(
        [npm, "test", "--silent"],
        cwd=LABEXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"Tests\s+(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 30, output[-2000:]
    assert "failed" not in output.split("Tests", 1)[-1].splitlines()[0]
