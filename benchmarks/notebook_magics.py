"""Notebook magics: ``%load_ext oui_jupyter`` to ready, and the extra latency of ``%%chat``
to its first streamed token compared with calling ``oui/api/chat/completions`` directly.

Everything runs for real: a llama.cpp server with the embedded SmolLM2, a ``jupyter server``
with the extension (subprocess), and kernels that server starts (``POST /api/sessions``), so
server discovery is exactly what happens in JupyterLab.

* load: N fresh kernels; in each, the time of ``%load_ext oui_jupyter`` (which also finds the
  server) measured inside the kernel, whether torch/httpx/openai/sqlalchemy got imported, and
  the time of the first magic that talks to the server (``%oui models``: httpx import + HTTP).
* first token: in one warm kernel, alternately (a) a direct streaming POST to
  ``oui/api/chat/completions`` (same prompt, no chat) and (b) a ``%%chat --new`` cell (creates a
  chat, saves both messages), timing from the call to the first streamed text; plus (c) a
  ``%%chat`` continuing the notebook's chat. The model answers at most 4 tokens.

    python benchmarks/notebook_magics.py [N_KERNELS] [N_TURNS]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "notebook")]

import nbformat
from nb_live import start_live_server, stop_live_server
from support.llama_server import start_llama_server, stop_llama_server

from oui_jupyter.notebook.client import OuiClient
from oui_jupyter.notebook.discovery import ServerInfo

LOAD_CELL = """
import sys, time
t0 = time.perf_counter()
get_ipython().run_line_magic("load_ext", "oui_jupyter")
t1 = time.perf_counter()
heavy = {m: m in sys.modules for m in ("torch", "httpx", "openai", "sqlalchemy", "sentence_transformers", "ipywidgets")}
from IPython.utils.capture import capture_output
with capture_output():
    get_ipython().run_line_magic("oui", "models")
t2 = time.perf_counter()
print("BENCH", json.dumps({"load_ms": (t1 - t0) * 1000, "first_call_ms": (t2 - t1) * 1000, "imported": heavy}))
"""

LATENCY_CELL = """
import json, time, httpx
import oui_jupyter.notebook.magics as magics
from IPython.utils.capture import capture_output
from oui_jupyter.notebook.session import shared_session

get_ipython().run_line_magic("load_ext", "oui_jupyter")
session = shared_session()
server = session.server
first = []
original_add = magics._AnswerView.add
def add(self, text):
    if not first:
        first.append(time.perf_counter())
    original_add(self, text)
magics._AnswerView.add = add

PROMPT = "Say hi."
def direct(history=()):
    messages = [*history, {"role": "user", "content": PROMPT}]
    body = {"model": "smollm2", "messages": messages, "stream": True, "max_tokens": 4}
    with httpx.Client(headers=server.auth_headers(), timeout=120) as client:
        t0 = time.perf_counter()
        with client.stream("POST", server.api_url("chat/completions"), json=body) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choices = json.loads(line[6:]).get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):
                    t = time.perf_counter() - t0
                    break
    return t * 1000

def chat(options):
    first.clear()
    t0 = time.perf_counter()
    with capture_output():
        get_ipython().run_cell_magic("chat", f"-m smollm2 --max-tokens 4 {options}", PROMPT)
    return (first[0] - t0) * 1000

direct()  # the model's first completion (loading) is not ours to measure
cold = chat("")  # first %%chat of the kernel: models list, notebook chat lookup/creation, httpx import
notebook_chat = session.chat_id
results = {"direct": [], "chat_new": [], "direct_same_history": [], "chat_continue": []}
for _ in range(N_TURNS):
    results["direct"].append(direct())
    results["chat_new"].append(chat("--new"))
    branch = session.client.get_chat(notebook_chat)["chat"]["messages"]
    history = [{"role": m["role"], "content": m["content"]} for m in branch]
    results["direct_same_history"].append(direct(history))
    session.chat_id = notebook_chat  # --new moved the notebook on to the new chat: come back
    results["chat_continue"].append(chat(""))
print("BENCH", json.dumps({"cold_chat_ms": cold, **results}))
"""


def bench_lines(nb: nbformat.NotebookNode) -> list[dict]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                for line in output["text"].splitlines():
                    if line.startswith("BENCH "):
                        found.append(json.loads(line[6:]))
            if output.get("output_type") == "error":
                raise RuntimeError("\n".join(output["traceback"]))
    return found


def write(root: Path, path: str, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / path)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    n_kernels = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n_turns = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    llama, llama_url = start_llama_server()
    live = start_live_server(Path(tempfile.mkdtemp(prefix="oui-bench-")), llama_url)
    try:
        # the server indexes its root at start (loading the embedding model takes seconds of
        # CPU): measure after that, not against it
        with OuiClient(ServerInfo(url=live.url, token=live.token)) as client:
            client.wait_for_index(timeout=300)
        write(live.root, "bench/load.ipynb", ["import json", LOAD_CELL])
        loads = []
        for _ in range(n_kernels):
            loads.extend(bench_lines(live.execute("bench/load.ipynb")))
        load_ms = [r["load_ms"] for r in loads]
        first_ms = [r["first_call_ms"] for r in loads]
        imported = {k: any(r["imported"][k] for r in loads) for k in loads[0]["imported"]}
        print(
            f"%load_ext oui_jupyter (in the kernel, {n_kernels} fresh kernels): "
            f"median {median(load_ms):.1f} ms, max {max(load_ms):.1f} ms"
        )
        print(
            f"first %oui models after it (httpx import + discovery + HTTP): median {median(first_ms):.1f} ms"
        )
        print(f"modules imported by %load_ext: {imported}")

        write(live.root, "bench/latency.ipynb", [f"N_TURNS = {n_turns}", LATENCY_CELL])
        (latency,) = bench_lines(live.execute("bench/latency.ipynb", timeout=600))
        direct, new, cont = latency["direct"], latency["chat_new"], latency["chat_continue"]
        same = latency["direct_same_history"]
        print(
            f"first token, direct oui/api/chat/completions: median {median(direct):.1f} ms ({n_turns} runs)"
        )
        print(
            f"first token, %%chat --new (creates a chat, saves both messages): median {median(new):.1f} ms "
            f"-> extra {median(new) - median(direct):+.1f} ms"
        )
        print(
            f"first token, direct with the chat's history as messages: median {median(same):.1f} ms"
        )
        print(
            f"first token, %%chat continuing that chat right after (llama.cpp's prompt cache already holds "
            f"the history, so this is not a like-for-like pair): median {median(cont):.1f} ms"
        )
        print(f"first %%chat of a kernel (cold): {latency['cold_chat_ms']:.1f} ms")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print("raw:", json.dumps({"load_ms": load_ms, "first_call_ms": first_ms, **latency}))
    finally:
        stop_live_server(live)
        stop_llama_server(llama)


if __name__ == "__main__":
    main()
