"""Search latency: hybrid / vector-only / keyword-only top-10 vs a bare numpy scan.

Synthetic but shaped like a real index: N chunks of ~60 words drawn from a Zipf vocabulary
(so BM25 posting lists have realistic lengths), 384-d normalised float32 vectors. The
index's in-memory state is loaded the way ``DuckDBVectorStore._load`` loads it at start
(search never touches DuckDB). The bare scan is ``X @ q`` + ``argpartition`` over the same
matrix in the same run.

    python benchmarks/retrieval_search.py            # 10k, 100k, 1M
    python benchmarks/retrieval_search.py 10000 100000
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

import numpy as np

from oui_jupyter.services.retrieval.search import search
from oui_jupyter.store.vector_store import DuckDBVectorStore, SearchFilter

DIM = 384
K = 10
N_QUERIES = 200
WORDS_PER_CHUNK = 60
VOCAB = 50_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_vocab(rng) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = set()
    while len(words) < VOCAB:
        n = rng.integers(4, 10)
        words.add("".join(rng.choice(letters, n)))
    return sorted(words)


def zipf_ids(rng, n: int) -> np.ndarray:
    ranks = np.arange(1, VOCAB + 1)
    p = 1.0 / ranks**1.07
    p /= p.sum()
    return rng.choice(VOCAB, size=n, p=p)


def build(n: int, rng, vocab: list[str]) -> tuple[DuckDBVectorStore, np.ndarray, list[str]]:
    st = DuckDBVectorStore(":memory:", embedding_model="bench")
    st.open()
    vocab_arr = np.array(vocab, dtype=object)
    step = 50_000
    t0 = time.perf_counter()
    for start in range(0, n, step):
        m = min(step, n - start)
        ids = zipf_ids(rng, m * WORDS_PER_CHUNK).reshape(m, WORDS_PER_CHUNK)
        texts = [" ".join(vocab_arr[row]) for row in ids]
        srcs = [f"dir{(start + i) % 97}/file{(start + i) // 20}.py" for i in range(m)]
        metas = [json.dumps({"source": s, "start_line": 1, "end_line": 20}) for s in srcs]
        with st._lock:
            st._append_rows(
                list(range(start + 1, start + m + 1)),
                ["workspace"] * m,
                srcs,
                ["py"] * m,
                texts,
                [""] * m,
                metas,
            )
    t_kw = time.perf_counter() - t0
    vecs = rng.standard_normal((n, DIM), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with st._lock:
        st._put_vectors(np.arange(n), vecs)
    del vecs
    gc.collect()
    print(f"  built {n:,} chunks (keyword index {t_kw:.1f} s)", flush=True)
    return st, st._vecs[:n], vocab


def pct(xs, p) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def run(n: int) -> dict:
    rng = np.random.default_rng(42)
    vocab = make_vocab(rng)
    rss0 = rss_mb()
    st, X, vocab = build(n, rng, vocab)
    rss1 = rss_mb()
    # queries: 3 words from the mid-frequency band, a vector near a random chunk
    qwords = [" ".join(vocab[int(i)] for i in rng.integers(50, 5000, 3)) for _ in range(N_QUERIES)]
    qvecs = X[rng.integers(0, n, N_QUERIES)] + 0.3 * rng.standard_normal(
        (N_QUERIES, DIM), dtype=np.float32
    )
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)

    def bare(q):
        s = X @ q
        idx = np.argpartition(-s, K)[:K]
        return idx[np.argsort(-s[idx])]

    times: dict[str, list[float]] = {
        m: [] for m in ("bare", "hybrid", "vector", "keyword", "hybrid_filtered")
    }
    flt = SearchFilter(globs=["dir1*/*"])
    for _ in range(5):  # warm up
        bare(qvecs[0])
        search(st, qwords[0], K, qvec=qvecs[0])
    for i in range(N_QUERIES):
        q, words = qvecs[i], qwords[i]
        for name, fn, args in (
            ("bare", bare, (q,)),
            ("hybrid", search, (st, words, K, None, q, "hybrid")),
            ("vector", search, (st, words, K, None, q, "vector")),
            ("keyword", search, (st, words, K, None, None, "keyword")),
            ("hybrid_filtered", search, (st, words, K, flt, q, "hybrid")),
        ):
            t = time.perf_counter()
            fn(*args) if fn is bare else fn(*args[:3], flt=args[3], qvec=args[4], mode=args[5])
            times[name].append(time.perf_counter() - t)
    # the vector retriever must agree with the bare scan
    got = [h.position for h in search(st, qwords[0], K, qvec=qvecs[0], mode="vector").hits]
    assert got == bare(qvecs[0]).tolist(), "vector search disagrees with the bare scan"
    out = {
        "n": n,
        **{f"{m}_p50_ms": round(pct(t, 50), 3) for m, t in times.items()},
        **{f"{m}_p95_ms": round(pct(t, 95), 3) for m, t in times.items()},
    }
    out["hybrid_over_bare_p50"] = round(out["hybrid_p50_ms"] / out["bare_p50_ms"], 2)
    out["index_mb"] = round(st.nbytes() / 2**20, 1)
    out["rss_growth_mb"] = round(rss1 - rss0, 1)
    out["vectors_mb"] = round(X.nbytes / 2**20, 1)
    out["bm25_mb"] = round(st.memory.keyword_nbytes() / 2**20, 1)
    st.close()
    return out


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    print(f"threads: {os.cpu_count()} cpus, numpy {np.__version__}")
    rows = []
    for n in sizes:
        r = run(n)
        rows.append(r)
        print(json.dumps(r), flush=True)
        gc.collect()
    print(
        "\n| chunks | bare scan p50 | hybrid p50 (p95) | hybrid/bare | vector-only p50 | keyword-only p50 | hybrid+glob filter p50 | index MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['bare_p50_ms']:.2f} ms | {r['hybrid_p50_ms']:.2f} ms ({r['hybrid_p95_ms']:.2f}) | "
            f"{r['hybrid_over_bare_p50']:.2f}x | {r['vector_p50_ms']:.2f} ms | {r['keyword_p50_ms']:.2f} ms | "
            f"{r['hybrid_filtered_p50_ms']:.2f} ms | {r['index_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
