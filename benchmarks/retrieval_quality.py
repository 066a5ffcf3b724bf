"""Retrieval quality on real public text we did not write: the source of installed
third-party packages. Query = a function's docstring first line; the one relevant passage =
that function's source without its docstring (signature + body), indexed as one chunk.
Reports top-1 accuracy and MRR@10 for keyword (BM25), vector (all-MiniLM-L6-v2), hybrid
(the default relative score fusion) and hybrid with reciprocal rank fusion.

    python benchmarks/retrieval_quality.py [n_pairs] [package ...]
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import random
import sys
import tempfile
import time

from oui_jupyter.providers.embeddings import SentenceTransformerEmbeddings
from oui_jupyter.services.retrieval.loaders import Section
from oui_jupyter.services.retrieval.search import search
from oui_jupyter.services.retrieval.splitter import Splitter, TokenCounter
from oui_jupyter.store.vector_store import ChunkIn, DuckDBVectorStore, FileRecord

PACKAGES = ["tornado", "jinja2", "click", "requests", "pathspec", "alembic"]


def pairs_from(package: str) -> list[tuple[str, str, str]]:
    spec = importlib.util.find_spec(package)
    root = spec.submodule_search_locations[0]
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    src = f.read()
                tree = ast.parse(src)
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            lines = src.split("\n")
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                doc = ast.get_docstring(node)
                if not doc or not node.body or node.name.startswith("__"):
                    continue
                first = doc.strip().split("\n")[0].strip()
                if len(first.split()) < 4 or len(first) > 200:
                    continue
                ds = node.body[0]
                body = (
                    lines[node.lineno - 1 : ds.lineno - 1] + lines[ds.end_lineno : node.end_lineno]
                )
                body_text = "\n".join(body).strip("\n")
                if len(node.body) < 2 or len(body_text) < 40:
                    continue  # no body beyond the docstring
                rel = os.path.relpath(path, os.path.dirname(root))
                out.append((first, body_text, f"{rel}:{node.lineno}"))
    return out


def main() -> None:
    n_pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    packages = sys.argv[2:] or PACKAGES
    pairs = []
    for p in packages:
        if importlib.util.find_spec(p) is not None:
            pairs += pairs_from(p)
    seen, uniq = set(), []
    for q, body, ref in pairs:
        if q.lower() not in seen:
            seen.add(q.lower())
            uniq.append((q, body, ref))
    random.Random(7).shuffle(uniq)
    pairs = uniq[:n_pairs]
    print(f"{len(pairs)} (docstring line -> function) pairs from {', '.join(packages)}", flush=True)

    emb = SentenceTransformerEmbeddings()
    emb.start_loading()
    assert emb.wait_ready(300), emb.error
    splitter = Splitter(240, 0, TokenCounter(emb.tokenizer_file))
    with tempfile.TemporaryDirectory() as tmp:
        st = DuckDBVectorStore(os.path.join(tmp, "q.duckdb"), embedding_model=emb.model_id)
        st.open()
        batch = []
        for _i, (_, body, ref) in enumerate(pairs):
            chunk = splitter.split(
                [Section(body, {"start_line": 1, "end_line": body.count("\n") + 1})]
            )[0]
            batch.append(
                (
                    FileRecord("eval", ref, 0, 0.0, "", "py", 1),
                    [ChunkIn(chunk.text, {"source": ref})],
                )
            )
        st.write_files(batch)
        t0 = time.perf_counter()
        items = st.pending(100_000)
        vecs = emb.embed([t for _, _, t in items])
        st.put_embeddings(emb.model_id, [(p, h) for p, h, _ in items], vecs)
        print(f"embedded {len(items)} passages in {time.perf_counter() - t0:.1f} s", flush=True)
        qvecs = emb.embed([q for q, _, _ in pairs])
        results = {}
        runs = {
            "keyword": ("keyword", "relative"),
            "vector": ("vector", "relative"),
            "hybrid": ("hybrid", "relative"),
            "hybrid_rrf": ("hybrid", "rrf"),
        }
        for name, (mode, fusion) in runs.items():
            top1 = 0
            rr = 0.0
            for (q, _, ref), qv in zip(pairs, qvecs, strict=False):
                qvec = None if mode == "keyword" else qv
                hits = search(st, q, 10, qvec=qvec, mode=mode, fusion=fusion).hits
                srcs = [h.meta["source"] for h in hits]
                if srcs and srcs[0] == ref:
                    top1 += 1
                if ref in srcs:
                    rr += 1.0 / (srcs.index(ref) + 1)
            results[name] = {
                "top1": round(top1 / len(pairs), 3),
                "mrr@10": round(rr / len(pairs), 3),
            }
        st.close()
    print(json.dumps({"pairs": len(pairs), "packages": packages, **results}))
    print("\n| retriever | top-1 | MRR@10 |\n|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['top1']:.3f} | {r['mrr@10']:.3f} |")
    best_single = max(results["keyword"]["mrr@10"], results["vector"]["mrr@10"])
    print(f"\nhybrid beats both on MRR@10: {results['hybrid']['mrr@10'] > best_single}")


if __name__ == "__main__":
    main()
