"""Schemathesis over ``oui/api/openapi.json`` of a real ``jupyter server`` process: no server
error, and every answer (status, content type, headers, body) as the document states it.

Bounded: 50 examples per operation (``OUI_FUZZ_EXAMPLES``), one worker, a
fixed seed, about two minutes on two cores.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.scripted_media import ScriptedMedia

TOKEN = "fuzz-token"
EXAMPLES = int(os.environ.get("OUI_FUZZ_EXAMPLES", "50"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# What is not fuzzed, and why (everything else is):
EXCLUDED = {
    # A WebSocket: a plain GET is refused by the upgrade (HTML 400), not by the API
    # (tests/server/test_input_limits.py drives it).
    "/oui/api/events": "GET",
    # Point the server at hosts the fuzzer makes up: the model list and every completion would
    # then connect to them (outbound connections from a test), and a new embedding model or
    # chunking re-embeds and re-indexes everything; tested with real values elsewhere.
    "/oui/api/v1/openai/config/update": "POST",
    "/oui/api/v1/retrieval/config/update": "POST",
    "/oui/api/v1/images/config/update": "POST",
    "/oui/api/v1/audio/config/update": "POST",
    # Embed with the embedding endpoint, a closed port here (no model to load): every valid
    # body is a 502 by design. Tested with the real model in tests/retrieval/test_embeddings_api.py.
    "/oui/api/embeddings": "POST",
    "/oui/api/v1/embeddings": "POST",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def media_upstream() -> Iterator[ScriptedMedia]:
    """The images and audio endpoint of the fuzzed server: scripted, on localhost."""
    server = ScriptedMedia().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, media_upstream: ScriptedMedia
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "notes.md").write_text("# Notes\n\nThe fuzzer may read this file.\n")
    port = _free_port()
    config = root / "config.py"
    config.write_text(
        "c.ServerApp.jpserver_extensions = {'oui_jupyter': True}\n"
        f"c.OuiJupyter.data_dir = {str(root / 'oui-data')!r}\n"
        "c.OuiJupyter.warm_up_delay = 0.0\n"
        "c.OuiJupyter.local_model_enabled = False\n"
        "c.OuiJupyter.index_start_delay = 0.0\n"
        # No embedding model to load: a closed local port, so search is keyword-only.
        "c.OuiJupyter.embedding_engine = 'openai'\n"
        "c.OuiJupyter.embedding_base_url = 'http://127.0.0.1:9/v1'\n"
        "c.OuiJupyter.models_fetch_timeout = 0.5\n"
    )
    env = dict(
        os.environ,
        JUPYTER_DATA_DIR=str(root / "jd"),
        JUPYTER_RUNTIME_DIR=str(root / "rt"),
        JUPYTER_CONFIG_DIR=str(root / "jc"),
        OPENAI_API_BASE_URL="",
        OLLAMA_BASE_URL="",
        # Image generation and audio on, against the scripted endpoint (off, every call of
        # theirs would be a 503 by design).
        ENABLE_IMAGE_GENERATION="true",
        IMAGES_OPENAI_API_BASE_URL=media_upstream.base_url,
        AUDIO_STT_ENGINE="openai",
        AUDIO_STT_OPENAI_API_BASE_URL=media_upstream.base_url,
        AUDIO_TTS_ENGINE="openai",
        AUDIO_TTS_OPENAI_API_BASE_URL=media_upstream.base_url,
    )
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.token={TOKEN}",
            f"--config={config}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.log_level=WARN",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(root),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(
                url + "/oui/api/version", headers={"Authorization": f"token {TOKEN}"}
            )
            urllib.request.urlopen(request, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError((root / "server.log").read_text()[-4000:]) from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        server_log = (root / "server.log").read_text(errors="replace")
        assert "Traceback" not in server_log, server_log[-6000:]


def _call(
    url: str,
    method: str,
    path: str,
    body: object = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> dict:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        f"{url}/oui/api/{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _seed(url: str) -> dict[str, list[str]]:
    """Things for the fuzzer's ids to find (else nearly every id route only answers 404)."""
    chats = []
    for n in range(3):
        history = {
            "messages": {
                "u": {"id": "u", "parentId": None, "role": "user", "content": f"question {n}"},
                "a": {"id": "a", "parentId": "u", "role": "assistant", "content": "answer"},
            },
            "currentId": "a",
        }
        chat = {"chat": {"title": f"c{n}", "history": history}}
        chats.append(_call(url, "POST", "v1/chats/new", chat)["id"])
    share = _call(url, "POST", f"v1/chats/{chats[0]}/share")["share_id"]
    folder = _call(url, "POST", "v1/folders/", {"name": "seeded"})["id"]
    knowledge = _call(url, "POST", "v1/knowledge/create", {"name": "seeded"})["id"]
    boundary = "fuzzboundary"
    upload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nseeded upload\r\n--{boundary}--\r\n"
    ).encode()
    file_id = _call(
        url,
        "POST",
        "v1/files/?process=false",
        raw=upload,
        content_type=f"multipart/form-data; boundary={boundary}",
    )["id"]
    model = _call(url, "POST", "v1/models/create", {"id": "seeded-model", "name": "Seeded"})["id"]
    prompt = {"command": "seeded", "title": "Seeded", "content": "Hi {{name}}"}
    command = _call(url, "POST", "v1/prompts/create", prompt)["command"].lstrip("/")
    memory = _call(url, "POST", "v1/memories/add", {"content": "seeded memory"})["id"]
    return {
        "path.chat_id": chats,
        "path.share_id": [share],
        "path.folder_id": [folder],
        "path.knowledge_id": [knowledge],
        "path.file_id": [file_id],
        "query.id": [model],
        "path.command": [command],
        "path.memory_id": [memory],
    }


def _config(seeds: dict[str, list[str]]) -> str:
    lines = []
    for n, values in enumerate(seeds.values()):
        lines += [f"[dictionaries.seed{n}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for n, name in enumerate(seeds):
        lines.append(f'"{name}" = {{ dictionary = "seed{n}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


def test_schemathesis_finds_no_server_error_and_no_mismatch(fuzz_server: str, tmp_path: Path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(_seed(fuzz_server)))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{fuzz_server}/oui/api/openapi.json",
        "--url",
        fuzz_server,
        "-H",
        f"Authorization: token {TOKEN}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "13",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--phases",
        "examples,coverage,fuzzing",
        "--suppress-health-check",
        "all",
    ]
    for path in EXCLUDED:
        command += ["--exclude-path", path]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, NO_COLOR="1"),
        cwd=str(tmp_path),
    )
    output = done.stdout + done.stderr
    failures = output.split("= WARNINGS =")[0]
    assert done.returncode == 0, failures[-20000:]
    tested = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested is not None and tested.group(1) == tested.group(2), output[-4000:]
