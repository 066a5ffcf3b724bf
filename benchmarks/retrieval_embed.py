"""Embedding throughput of the indexer vs the model's raw batched throughput, same chunks.

Chunks: real source code (an installed package, through our loaders + splitter).
Raw: ``SentenceTransformer.encode(texts, batch_size=32)`` in one call. Indexer: the same
chunks written to the store as pending, then embedded by the indexer's background thread
(batches of 256 unique texts, vectors written to DuckDB + the hot matrix), timed from the
wake-up to the last vector. Runs raw, indexer, raw and compares with the mean raw rate.

    python benchmarks/retrieval_embed.py [n_chunks] [package]
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time

from oui_jupyter.providers.embeddings import SentenceTransformerEmbeddings
from oui_jupyter.services.retrieval.indexer import Indexer
from oui_jupyter.services.retrieval.loaders import load
from oui_jupyter.services.retrieval.splitter import Splitter, TokenCounter
from oui_jupyter.services.retrieval.workspace import Workspace
from oui_jupyter.store.vector_store import ChunkIn, DuckDBVectorStore, FileRecord


def real_chunks(package: str, n: int, splitter: Splitter) -> list[tuple[str, str]]:
    root = importlib.util.find_spec(package).submodule_search_locations[0]
    out = []
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, "rb") as f:
                    data = f.read()
                for c in splitter.split(load(data, rel)):
                    out.append((rel, c.text))
                    if len(out) >= n:
                        return out
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 384
    package = sys.argv[2] if len(sys.argv) > 2 else "tornado"
    emb = SentenceTransformerEmbeddings()
    emb.start_loading()
    assert emb.wait_ready(300), emb.error
    splitter = Splitter(240, 32, TokenCounter(emb.tokenizer_file))
    chunks = real_chunks(package, n, splitter)
    texts = [t for _, t in chunks]
    n_tokens = sum(TokenCounter(emb.tokenizer_file).count(texts))
    print(
        f"{len(texts)} chunks of {package} source, {n_tokens / len(texts):.0f} word pieces on average",
        flush=True,
    )
    emb.embed(texts[:32])  # warm up

    def raw() -> float:
        t = time.perf_counter()
        emb._model.encode(
            texts,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return len(texts) / (time.perf_counter() - t)

    def indexer() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            st = DuckDBVectorStore(os.path.join(tmp, "e.duckdb"), embedding_model=emb.model_id)
            st.open()
            by_file: dict[str, list[ChunkIn]] = {}
            for _i, (src, text) in enumerate(chunks):
                by_file.setdefault(src, []).append(ChunkIn(text, {"source": src}))
            st.write_files(
                [
                    (FileRecord("workspace", s, 0, 0.0, "", "py", len(c)), c)
                    for s, c in by_file.items()
                ]
            )
            assert st.stats()["pending"] == len(texts)
            idx = Indexer(st, Workspace(tmp), splitter, emb, watch=False)
            t = time.perf_counter()
            idx.start()
            idx.wake_embedding()
            while st.stats()["pending"]:
                time.sleep(0.005)
            dt = time.perf_counter() - t
            idx.stop()
            st.close()
            return len(texts) / dt

    r1 = raw()
    ix = indexer()
    r2 = raw()
    raw_mean = (r1 + r2) / 2
    res = {
        "chunks": len(texts),
        "raw_chunks_per_s": [round(r1, 1), round(r2, 1)],
        "indexer_chunks_per_s": round(ix, 1),
        "indexer_over_raw": round(ix / raw_mean, 3),
    }
    print(json.dumps(res))
    print(f"\nindexer {ix:.1f} chunks/s vs raw {raw_mean:.1f} chunks/s: {100 * ix / raw_mean:.0f}%")


if __name__ == "__main__":
    main()
