"""Runs the oui team service for the hub tests, so that a test can stop and restart it.

``python service_supervisor.py CONTROL_DIR LOG -- <command...>``: JupyterHub starts this as
its managed service and sees one process that lives until the hub stops it. The real command
runs as a child (output to LOG, pid in CONTROL_DIR/child.pid). While CONTROL_DIR/stop exists
the child is stopped (SIGTERM, then SIGKILL) and not restarted; when it goes, it starts again.
A child that exits by itself is restarted too (as the hub would). The environment the hub gave
is written to CONTROL_DIR/environment.json (mode 0600), for replicas started by the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    control, log_path, sep, *command = sys.argv[1:]
    assert sep == "--" and command, __doc__
    control_dir = Path(control)
    control_dir.mkdir(parents=True, exist_ok=True)
    env_file = control_dir / "environment.json"
    env_file.touch(mode=0o600)
    env_file.write_text(json.dumps(dict(os.environ)))
    pid_file = control_dir / "child.pid"
    stop_file = control_dir / "stop"
    child: subprocess.Popen[bytes] | None = None
    running = True

    def on_term(signum: int, frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def stop_child() -> None:
        nonlocal child
        if child is None:
            return
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(15)
        child = None
        pid_file.write_text("")

    while running:
        if stop_file.exists():
            stop_child()
        elif child is None or child.poll() is not None:
            if child is not None:
                time.sleep(1)  # it exited by itself: no tight restart loop
            with open(log_path, "ab") as log:
                child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            pid_file.write_text(str(child.pid))
        time.sleep(0.1)
    stop_child()
    return 0


if __name__ == "__main__":
    sys.exit(main())
