"""The embedded model is served from a Q8_0 copy made once per machine (llama.cpp's CPU kernels
read a prompt about 1.5x faster in that layout than in the shipped Q4_1): the server serves
the shipped file until the copy is there, makes it in the background, and serves the copy
from its next start; its llama.cpp server keeps no per-token logits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oui_jupyter.providers import local_model_file
from oui_jupyter.providers.local_llama import LocalLlamaServer, local_model_path

pytestmark = pytest.mark.llm


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model_file, "_started", set())
    return tmp_path / "cache"


def source() -> Path:
    path = local_model_path()
    assert path is not None, 'the embedded model needs pip install "oui-jupyter[local]"'
    return path


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_the_copy_is_made_once_and_then_served(cache: Path) -> None:
    shipped = source()
    assert local_model_file.serving_path(shipped) == shipped  # no copy yet
    run = [sys.executable, "-m", "oui_jupyter.providers.local_model_file"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr
    copy = Path(done.stdout.strip())
    assert (
        copy == local_model_file.prepared_path(shipped)
        and copy.parent == cache / "oui-jupyter/models"
    )
    assert copy.read_bytes()[:4] == b"GGUF" and copy.stat().st_size > shipped.stat().st_size
    assert local_model_file.serving_path(shipped) == copy
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".part")]
    again = subprocess.run(run, capture_output=True, text=True, timeout=120, env=os.environ)
    assert again.returncode == 0 and Path(again.stdout.strip()) == copy  # made once
    assert "llama_model_quantize" not in done.stderr  # the conversion's log is kept quiet


async def test_the_server_makes_the_copy_in_the_background_and_serves_it_next(
    cache: Path,
) -> None:
    shipped = source()
    local = LocalLlamaServer(n_ctx=512, n_threads=2)
    try:
        await local.base_url()
        assert local.pid is not None
        first = command_line(local.pid)
        assert str(shipped) in first
        assert first[first.index("--logits_all") + 1] == "False"
        assert first[first.index("--flash_attn") + 1] == "True"
        copy = local_model_file.prepared_path(shipped)
        deadline = time.monotonic() + 120
        while not copy.is_file() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert copy.is_file()
        local.stop()
        await local.base_url()
        assert local.pid is not None and str(copy) in command_line(local.pid)
    finally:
        local.stop()
