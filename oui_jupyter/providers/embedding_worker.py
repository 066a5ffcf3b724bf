"""The local embedding model in a process of its own, and this server's client of it.

Importing torch and sentence-transformers takes seconds of CPU, most of it holding the GIL:
in the server's process it stalled the event loop (and with it every stream) while a chat
turn waited. The worker process imports them instead, at a lower CPU priority than the
server and the embedded model's server, so chats come first on a busy machine, and the
server's own memory stays free of torch.

Protocol, over the worker's stdin and stdout: frames of ``>II`` (header length, payload
length), a JSON header, then the payload. The worker first says ``{"ready": true,
"max_seq_length": n}`` or ``{"error": "..."}``; then each request ``{"id", "texts",
"batch_size", "threads", "background"}`` is answered by ``{"id", "shape"}`` with the float32
vectors as payload, or ``{"id", "error"}``. Requests are answered one at a time (fast
tokenizers are not safe across threads), queries before waiting background batches. The
worker exits when its stdin closes, i.e. with the server.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import IO, TYPE_CHECKING, Any

from ..errors import NotReady, ProviderError

if TYPE_CHECKING:
    import numpy as np

#: the worker's niceness (the lowest priority): the server and the model server come first
NICENESS = 19
_FRAME = struct.Struct(">II")
#: bounds on what one frame may say (a request is one embedding batch)
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024


def write_frame(out: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    out.write(_FRAME.pack(len(data), len(payload)) + data + payload)
    out.flush()


def read_frame(inp: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None at the end of the stream."""
    head = inp.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    size, payload_size = _FRAME.unpack(head)
    if size > MAX_HEADER_BYTES or payload_size > MAX_PAYLOAD_BYTES:
        raise ValueError("embedding worker frame too large")
    header = inp.read(size)
    payload = inp.read(payload_size) if payload_size else b""
    if len(header) < size or len(payload) < payload_size:
        return None
    return json.loads(header), payload


# ----- the worker process ------------------------------------------------------------------


def serve(model_path: str, device: str, inp: IO[bytes], out: IO[bytes]) -> int:
    try:
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path, device=device)
    except BaseException as e:  # an import or a model that fails: the server says why
        write_frame(out, {"error": f"{type(e).__name__}: {e}"})
        return 1
    default_threads = torch.get_num_threads()
    write_frame(out, {"ready": True, "max_seq_length": int(model.max_seq_length or 0)})

    queue: list[tuple[int, int, dict[str, Any]]] = []
    more = threading.Condition()
    ended = False

    def receive() -> None:
        nonlocal ended
        try:
            while (frame := read_frame(inp)) is not None:
                request = frame[0]
                with more:
                    heapq.heappush(
                        queue, (int(bool(request.get("background"))), int(request["id"]), request)
                    )
                    more.notify()
        finally:
            with more:
                ended = True
                more.notify()

    threading.Thread(target=receive, name="oui-embed-receive", daemon=True).start()
    while True:
        with more:
            while not queue and not ended:
                more.wait()
            if not queue:
                return 0
            _, _, request = heapq.heappop(queue)
        try:
            torch.set_num_threads(int(request.get("threads") or default_threads))
            vecs = model.encode(
                list(request["texts"]),
                batch_size=int(request.get("batch_size") or 32),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype("float32")
            write_frame(out, {"id": request["id"], "shape": list(vecs.shape)}, vecs.tobytes())
        except Exception as e:
            write_frame(out, {"id": request.get("id"), "error": f"{type(e).__name__}: {e}"})


def main(argv: Sequence[str] | None = None) -> int:
    model_path, device = [*(sys.argv[1:] if argv is None else argv), "cpu"][:2]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is the server's
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Frames own the real stdout; whatever a library prints goes to stderr (the server's log).
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        return serve(model_path, device, sys.stdin.buffer, out)
    except BrokenPipeError:  # the server went away first
        return 0


# ----- the client ----------------------------------------------------------------------------


class EmbeddingWorker:
    """One worker process per model and device, shared by every provider of this process.

    ``start`` returns at once; ``ready`` once the model is loaded. A worker that exits after
    loading is started again by the next ``start``; one whose model failed to load keeps
    its ``error``."""

    def __init__(self, model_path: str, device: str) -> None:
        self.model_path = model_path
        self.device = device
        self.max_seq_length = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._loaded = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, Future[np.ndarray]] = {}
        self._ids = itertools.count(1)
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    def start(self) -> None:
        with self._lock:
            if self._process is not None or self.error is not None:
                return
            self._loaded.clear()
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, self.model_path, self.device],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            process = self._process
        threading.Thread(
            target=self._read, args=(process,), name="oui-embeddings-worker", daemon=True
        ).start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        self.start()
        self._loaded.wait(timeout)
        return self._ready

    def embed(
        self, texts: Sequence[str], *, batch_size: int, threads: int | None, background: bool
    ) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, 0), np.float32)
        if not self.wait_ready():
            raise NotReady(f"embedding model {self.model_path!r} failed to load: {self.error}")
        process = self._process
        if process is None or process.stdin is None:
            raise ProviderError("the embedding worker is not running")
        request_id = next(self._ids)
        result: Future[np.ndarray] = Future()
        self._pending[request_id] = result
        request = {
            "id": request_id,
            "texts": list(texts),
            "batch_size": batch_size,
            "threads": threads,
            "background": background,
        }
        try:
            with self._write_lock:
                write_frame(process.stdin, request)
        except (OSError, ValueError):
            self._pending.pop(request_id, None)
            raise ProviderError("the embedding worker exited") from None
        while True:
            try:
                return result.result(timeout=1.0)
            except TimeoutError:
                if process.poll() is not None and self._pending.pop(request_id, None) is not None:
                    raise ProviderError("the embedding worker exited") from None

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        import numpy as np

        assert process.stdout is not None
        try:
            first = read_frame(process.stdout)
            if first is None or not first[0].get("ready"):
                self.error = (first[0].get("error") if first else None) or "the worker exited"
                return
            self.max_seq_length = int(first[0].get("max_seq_length") or 0)
            self._ready = True
            self._loaded.set()
            while (frame := read_frame(process.stdout)) is not None:
                header, payload = frame
                waiting = self._pending.pop(int(header.get("id") or 0), None)
                if waiting is None:
                    continue
                if "error" in header:
                    waiting.set_exception(ProviderError(f"embedding failed: {header['error']}"))
                else:
                    vecs = np.frombuffer(payload, dtype=np.float32).reshape(header["shape"])
                    waiting.set_result(vecs)
        except (OSError, ValueError) as e:
            self.error = self.error or f"the embedding worker broke: {e}"
        finally:
            self._ended(process)

    def _ended(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._process is process:
                self._process = None
            self._ready = False
        self._loaded.set()  # waiters see the error, or a worker to start again
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
        process.wait()
        for request_id in list(self._pending):
            waiting = self._pending.pop(request_id, None)
            if waiting is not None:
                waiting.set_exception(ProviderError("the embedding worker exited"))


_workers: dict[tuple[str, str], EmbeddingWorker] = {}
_workers_lock = threading.Lock()


def shared_worker(model_path: str, device: str) -> EmbeddingWorker:
    with _workers_lock:
        worker = _workers.get((model_path, device))
        if worker is None:
            worker = _workers[(model_path, device)] = EmbeddingWorker(model_path, device)
        return worker


if __name__ == "__main__":
    sys.exit(main())
