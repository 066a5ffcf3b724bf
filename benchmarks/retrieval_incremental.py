"""Live index latencies on a 1,000-file workspace, with the real embedding model.

1. Index a 1k-file workspace (notebooks, Python, Markdown) to the end (keyword + vectors).
2. Edit one cell of one notebook; time until (a) keyword-searchable, (b) embedded and
   vector-searchable. Once through Jupyter's contents events (``notify_path``), once with
   no event at all (the stat poller, ``poll_interval`` 1 s).
3. Add 1,000 new files; time until every one is keyword-searchable (folder event), while
   the embedder works in the background.

    python benchmarks/retrieval_incremental.py [n_files]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from retrieval.helpers import notebook

from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


def words(i: int, n: int = 12) -> str:
    return " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(n))


def tag(i: int, prefix: str) -> str:
    """A word unique to file ``i`` (letters only: digits are separate index terms)."""
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters += chr(97 + r)
        if i == 0:
            return f"{prefix}tok{letters}"


def rel_path(i: int, prefix: str = "f") -> str:
    ext = ("ipynb", "py", "md")[i % 3]
    return f"{prefix}dir{i % 20}/{prefix}{i}.{ext}"


def write_file(root: Path, i: int, prefix: str = "f") -> None:
    kind = i % 3
    d = root / f"{prefix}dir{i % 20}"
    d.mkdir(parents=True, exist_ok=True)
    tag_i = tag(i, prefix)
    if kind == 0:
        (d / f"{prefix}{i}.ipynb").write_text(
            notebook(
                [
                    {"type": "markdown", "source": f"# Analysis {i}\n{words(i)} {tag_i}"},
                    {
                        "source": f"import math\nvalue_{i} = math.sqrt({i})\nvalue_{i}",
                        "result": str(i**0.5),
                    },
                    {"source": f"print('{words(i + 1, 6)}')", "stdout": words(i + 1, 6)},
                ]
            )
        )
    elif kind == 1:
        (d / f"{prefix}{i}.py").write_text(
            f'"""Module {i}: {words(i)}."""\n\n\ndef compute_{i}(x):\n    """{words(i + 2, 8)} {tag_i}"""\n'
            f"    return x * {i}\n\n\nclass Thing{i}:\n    def run(self):\n        return compute_{i}(2)\n"
        )
    else:
        (d / f"{prefix}{i}.md").write_text(
            f"# Notes {i}\n\n{words(i)} {tag_i}\n\n## More\n\n{words(i + 3)}\n"
        )


def wait(pred, timeout=120.0, step=0.002) -> float:
    t = time.perf_counter()
    while not pred():
        if time.perf_counter() - t > timeout:
            raise TimeoutError
        time.sleep(step)
    return time.perf_counter() - t


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        for i in range(n_files):
            write_file(root, i)
        cfg = RetrievalConfig(
            root_dir=str(root),
            data_dir=str(Path(tmp) / "data"),
            index_start_delay=0,
            index_poll_interval=1.0,
        )
        svc = RetrievalService(cfg)
        svc.embedder.start_loading()
        assert svc.embedder.wait_ready(300)
        t0 = time.perf_counter()
        svc.start()
        svc.ensure_started()
        t_kw = wait(lambda: svc.status()["files"] >= n_files and svc.indexer.state == "idle", 600)
        t_all = (
            wait(lambda: svc.status()["pending"] == 0 and svc.status()["chunks"] > 0, 1800) + t_kw
        )
        st = svc.status()
        print(
            f"initial: {n_files} files, {st['chunks']} chunks: keyword-searchable in {t_kw:.2f} s, "
            f"embedded in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        def keyword_has(term, source):
            hits = svc.hits(term, 3, mode="keyword")
            return bool(hits) and hits[0].meta["source"] == source

        def vector_has(term, source):
            hits = svc.hits(term, 3, mode="vector")
            return any(h.meta["source"] == source for h in hits) and svc.status()["pending"] == 0

        results = {
            "files": n_files,
            "chunks": st["chunks"],
            "initial_keyword_s": round(t_kw, 2),
            "initial_embedded_s": round(t_all, 1),
        }
        nb_rel = "fdir0/f0.ipynb"
        for how in ("event", "poller"):
            marker = f"zanzibar{how}quokka"
            cells = [
                {"type": "markdown", "source": f"# Analysis 0\n{words(0)} {tag(0, 'f')}"},
                {
                    "source": f"# {marker} kangaroo habitat survey\nvalue_0 = 1\nvalue_0",
                    "result": "1",
                },
                {"source": f"print('{words(1, 6)}')", "stdout": words(1, 6)},
            ]
            (root / nb_rel).write_text(notebook(cells))
            if how == "event":
                svc.notify_path(nb_rel)
            t_k = wait(lambda m=marker: keyword_has(m, nb_rel), 30)
            t_v = wait(lambda m=marker: vector_has(f"{m} kangaroo habitat survey", nb_rel), 60)
            results[f"edit_cell_{how}_keyword_s"] = round(t_k, 3)
            results[f"edit_cell_{how}_embedded_s"] = round(t_k + t_v, 3)
            print(
                f"edit one cell ({how}): keyword-searchable {t_k:.3f} s, vector-searchable {t_k + t_v:.3f} s",
                flush=True,
            )
            svc.indexer.wait_idle(30, embedded=True)

        # 1,000 new files at once
        new_root = root / "incoming"
        t = time.perf_counter()
        for i in range(1000):
            write_file(new_root, i, prefix="n")
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        svc.notify_path("incoming")
        last = (rel_path(999, "n"), tag(999, "n"))
        t_add = wait(
            lambda: (
                svc.status()["files"] >= n_files + 1000
                and keyword_has(last[1], "incoming/" + last[0])
            ),
            60,
        )
        found = sum(
            1
            for i in range(0, 1000, 50)
            if keyword_has(tag(i, "n"), "incoming/" + rel_path(i, "n"))
        )
        results["add_1000_files_keyword_s"] = round(t_add, 2)
        results["add_1000_write_s"] = round(t_write, 2)
        print(
            f"1,000 new files keyword-searchable {t_add:.2f} s after the folder event "
            f"(writing them took {t_write:.2f} s); spot check {found}/20 found",
            flush=True,
        )
        results["spot_check"] = f"{found}/20"
        svc.stop()
        print(json.dumps(results))


if __name__ == "__main__":
    main()
