"""The newcomer's scripts: lab.sh opens (a copy of) the example project, setup.sh announces
its steps."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"


@pytest.mark.parametrize("name", ["setup.sh", "lab.sh", "examples.sh"])
def test_scripts_parse(name: str):
    result = subprocess.run(["bash", "-n", str(SCRIPTS / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_setup_announces_each_step_and_times_it():
    text = (SCRIPTS / "setup.sh").read_text()
    assert "set -euo pipefail" in text
    body = text.split("done_step() {", 1)[1]
    steps = [m.start() for m in re.finditer(r'^\s*step "', body, re.M)]
    dones = [m.start() for m in re.finditer(r"^\s*done_step\b", body, re.M)]
    assert len(steps) >= 6 and len(dones) == len(steps)
    # every step ends (with its elapsed time) before the next one starts
    for start, done, after in zip(steps, dones, [*steps[1:], len(body)], strict=True):
        assert start < done < after
    announce = body.index("compiling llama-cpp-python (about 5-10 minutes, once per machine")
    compile_cmd = body.index("pip wheel --disable-pip-version-check")
    package = body.index('-e ".[local,test]"')
    smoke = body.index("llama_smoke 2>/dev/null")
    # the embedded model's Q8_0 copy for the CPU, once the build is known to decode
    copy = body.index("-m oui_jupyter.providers.local_model_file")
    assert announce < compile_cmd < package < smoke < copy
    # x86_64 builds are not -march=native (a native build crashed on a CPU with AMX)
    assert "-DGGML_NATIVE=OFF" in text


def fake_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "notebooks" / "data").mkdir(parents=True)
    (root / "notebooks" / "01.ipynb").write_text("{}")
    (root / "notebooks" / "data" / "sales.csv").write_text("a,b\n")
    (root / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(SCRIPTS / "lab.sh", root / "scripts" / "lab.sh")
    shutil.copy(SCRIPTS / "examples.sh", root / "scripts" / "examples.sh")
    (root / "scripts" / "setup.sh").write_text("echo set-up\n")
    jupyter = root / ".venv" / "bin" / "jupyter"
    jupyter.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv"\n')
    jupyter.chmod(0o755)
    return root


def lab_argv(root: Path, *args: str) -> list[str]:
    subprocess.run(["bash", str(root / "scripts" / "lab.sh"), *args], check=True, text=True)
    return (root / ".venv" / "bin" / "argv").read_text().splitlines()


def test_lab_serves_the_example_project_and_passes_arguments_on(tmp_path: Path):
    root = fake_checkout(tmp_path)
    argv = lab_argv(root, "--port", "8890", "--no-browser")
    assert argv[0] == "lab" and argv[-3:] == ["--port", "8890", "--no-browser"]
    assert f"--ServerApp.root_dir={root / 'my-examples'}" in argv
    assert (root / "my-examples" / "01.ipynb").read_text() == "{}"
    assert (root / "my-examples" / "data" / "sales.csv").read_text() == "a,b\n"


def test_lab_serves_a_copy_that_keeps_your_changes(tmp_path: Path):
    """Running and saving the notebooks changes the copy, never notebooks/; a later start
    keeps the copy's files and adds examples new in notebooks/."""
    root = fake_checkout(tmp_path)
    lab_argv(root)
    (root / "my-examples" / "01.ipynb").write_text('{"outputs": "saved"}')
    (root / "notebooks" / "02.ipynb").write_text("{}")
    lab_argv(root)
    assert (root / "notebooks" / "01.ipynb").read_text() == "{}"
    assert (root / "my-examples" / "01.ipynb").read_text() == '{"outputs": "saved"}'
    assert (root / "my-examples" / "02.ipynb").read_text() == "{}"


def test_the_copy_is_ignored_by_git():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", "my-examples/01_quickstart.ipynb"],
        capture_output=True,
    )
    assert ignored.returncode == 0, "my-examples/ (lab.sh's copy of notebooks/) is not ignored"


@pytest.mark.parametrize("own", ["--ServerApp.root_dir={d}", "--notebook-dir={d}", "{d}"])
def test_lab_keeps_a_root_of_your_own(tmp_path: Path, own: str):
    root = fake_checkout(tmp_path)
    mine = own.format(d=tmp_path)
    argv = lab_argv(root, mine)
    assert argv[-1] == mine
    assert not [a for a in argv if "notebooks" in a or "my-examples" in a]
