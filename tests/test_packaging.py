"""The wheel has the final layout: package, migrations inside it, server config, labextension."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_layout(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("oui_jupyter-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/")[0] for n in names if ".data/" in n)
    expected = {
        "oui_jupyter/app.py",
        "oui_jupyter/migrations/env.py",
        "oui_jupyter/migrations/versions/0001_initial.py",
        f"{data}/data/etc/jupyter/jupyter_server_config.d/oui_jupyter.json",
        f"{data}/data/share/jupyter/labextensions/oui-jupyter/package.json",
        f"{data}/data/share/jupyter/labextensions/oui-jupyter/install.json",
    }
    assert expected <= names, sorted(expected - names)
    assert not any("__pycache__" in n for n in names)


def test_installed_extension_is_enabled():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    assert "oui_jupyter" in text and "OK" in text.split("oui_jupyter", 1)[1]
