"""The local embedding model runs in a worker process: torch never loads into the server (its
import held the GIL and stalled the event loop during a chat turn), the worker runs at a lower
CPU priority than the server, and it ends with the server or is started again after a crash.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from oui_jupyter.providers.embedding_worker import (
    NICENESS,
    EmbeddingWorker,
    read_frame,
    write_frame,
)
from oui_jupyter.providers.embeddings import (
    SentenceTransformerEmbeddings,
    background_embedding,
    bundled_model_path,
)


def niceness(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])  # the 19th field of stat, after pid and comm


def test_frames_round_trip_and_are_bounded() -> None:
    buffer = io.BytesIO()
    write_frame(buffer, {"id": 3, "shape": [1, 2]}, b"\x00\x01")
    write_frame(buffer, {"ready": True})
    buffer.seek(0)
    assert read_frame(buffer) == ({"id": 3, "shape": [1, 2]}, b"\x00\x01")
    assert read_frame(buffer) == ({"ready": True}, b"")
    assert read_frame(buffer) is None  # the end of the stream
    assert read_frame(io.BytesIO(b"\x00\x00")) is None  # cut short
    huge = io.BytesIO(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    with pytest.raises(ValueError):
        read_frame(huge)


def test_the_server_process_never_imports_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        from oui_jupyter.providers.embeddings import SentenceTransformerEmbeddings
        emb = SentenceTransformerEmbeddings()
        vecs = emb.embed(["emperor penguins dive deep", "a sorted list"])
        print(vecs.shape, round(float((vecs[0] ** 2).sum()), 3), emb.max_tokens)
        print(sorted(m for m in ("torch", "sentence_transformers") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    shape, loaded = done.stdout.strip().splitlines()[-2:]
    assert shape == "(2, 384) 1.0 256"
    assert loaded == "[]"


def test_queries_and_background_batches_get_the_same_vectors(minilm) -> None:
    texts = ["How deep do emperor penguins dive?", "bisect.insort keeps a list sorted"]
    query = minilm.embed(texts)
    with background_embedding(1):
        batch = minilm.embed(texts)
    assert query.dtype == np.float32 and query.shape == (2, 384)
    assert np.allclose(query, batch, atol=1e-5)
    assert minilm.embed([]).shape[0] == 0


def test_the_worker_runs_niced_and_ends_with_its_stdin() -> None:
    worker = EmbeddingWorker(bundled_model_path() or "", "cpu")
    assert worker.wait_ready(120), worker.error
    process = worker._process
    assert process is not None
    assert niceness(process.pid) == min(niceness(os.getpid()) + NICENESS, 19)
    assert process.stdin is not None
    process.stdin.close()  # what the server's exit does
    assert process.wait(30) == 0


def test_a_crashed_worker_fails_its_request_and_starts_again() -> None:
    emb = SentenceTransformerEmbeddings()
    worker = EmbeddingWorker(emb.model_path, "cpu")
    emb._worker = worker
    assert emb.wait_ready(120), emb.error
    process = worker._process
    assert process is not None
    process.kill()
    process.wait(10)
    deadline = time.monotonic() + 10
    while worker.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not emb.ready and emb.error is None  # it crashed; its model did load
    vecs = emb.embed(["started again on the next use"])
    assert vecs.shape == (1, 384) and emb.ready
    assert worker._process is not None and worker._process.pid != process.pid
    worker._process.stdin.close()  # type: ignore[union-attr]


def test_a_model_that_fails_to_load_says_why() -> None:
    emb = SentenceTransformerEmbeddings("/nonexistent/embedding-model")
    assert not emb.wait_ready(120)
    assert emb.error and "nonexistent" in emb.error
    with pytest.raises(Exception, match="failed to load"):
        emb.embed(["x"])
    emb.start_loading()  # a model that cannot load is not retried
    assert emb._worker is not None and emb._worker._process is None
