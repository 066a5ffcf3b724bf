"""Real files for retrieval tests: notebooks with outputs, code, markdown, CSV, PDF, HTML."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def notebook(cells: Sequence[dict]) -> str:
    nb = {
        "cells": [],
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, c in enumerate(cells):
        cell = {
            "cell_type": c.get("type", "code"),
            "id": c.get("id", f"c{i}"),
            "metadata": {},
            "source": c["source"],
        }
        if cell["cell_type"] == "code":
            cell["execution_count"] = i + 1
            outs = []
            if "stdout" in c:
                outs.append({"output_type": "stream", "name": "stdout", "text": c["stdout"]})
            if "result" in c:
                outs.append(
                    {
                        "output_type": "execute_result",
                        "execution_count": i + 1,
                        "metadata": {},
                        "data": {"text/plain": c["result"], "image/png": "iVBORw0KGgo="},
                    }
                )
            cell["outputs"] = outs
        nb["cells"].append(cell)
    return json.dumps(nb, indent=1)


def pdf(pages: Sequence[str]) -> bytes:
    """A minimal valid PDF with one text line per page (Helvetica), xref offsets exact."""
    objs: list[bytes] = []
    n = len(pages)
    font_id = 3 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i  # the page itself is object 3 + 2 * i
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode()
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


CODE = '''"""Geometry helpers."""
import math


def circle_area(radius):
    """Area of a circle from its radius."""
    return math.pi * radius ** 2


class Polygon:
    def __init__(self, points):
        self.points = points

    def perimeter(self):
        """Sum of the edge lengths of the polygon."""
        total = 0.0
        for a, b in zip(self.points, self.points[1:] + self.points[:1]):
            total += math.dist(a, b)
        return total
'''

MARKDOWN = """# Project Aurora

Aurora is a telescope scheduling tool.

## Installation

Install it with pip and configure the observatory latitude.

## Troubleshooting

If the dome does not open, check the hydraulic pressure sensor.
"""


def analysis_notebook(
    last_cell: str = "The emperor penguin dives deeper than any other bird.",
) -> str:
    """The workspace's notebook: markdown, code with outputs, and a last markdown cell
    (id ``emperor-cell``, index 3) that tests edit."""
    return notebook(
        [
            {
                "type": "markdown",
                "source": "# Penguin analysis\nWe study penguin colonies in Antarctica.",
            },
            {
                "source": "import pandas as pd\ndf = pd.read_csv('data/penguins.csv')\ndf.shape",
                "result": "(344, 7)",
                "id": "load-cell",
            },
            {
                "source": "print(df['flipper_length_mm'].mean())",
                "stdout": "200.9152046783626\n",
                "id": "mean-cell",
            },
            {"type": "markdown", "source": last_cell, "id": "emperor-cell"},
        ]
    )


def make_workspace(root: Path) -> Path:
    """A realistic little project under ``root``."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "src" / "geometry.py").write_text(CODE)
    (root / "docs" / "README.md").write_text(MARKDOWN)
    (root / "analysis.ipynb").write_text(analysis_notebook())
    rows = "\n".join(
        f"Adelie,Torgersen,{39 + i % 5}.1,{18 + i % 3}.7,{180 + i},3750,male" for i in range(60)
    )
    (root / "data" / "penguins.csv").write_text(
        "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"
        + rows
        + "\n"
    )
    (root / "docs" / "manual.pdf").write_bytes(
        pdf(
            [
                "Chapter one explains the volcano monitoring network.",
                "Chapter two describes seismograph calibration procedures.",
            ]
        )
    )
    (root / "docs" / "page.html").write_text(
        "<html><head><style>body{color:red}</style><script>var x=1;</script></head>"
        "<body><h1>Glacier report</h1><p>The glacier retreated forty metres.</p></body></html>"
    )
    (root / "notes.txt").write_text("Remember to water the bonsai tree on Sundays.\n")
    return root


class HashEmbedder:
    """Deterministic bag-of-words embedder (no model) that counts what it embeds."""

    model_id = "test/hash-64"
    max_tokens = 256
    tokenizer_file = None
    ready = True
    error = None

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0
        self.texts: list[str] = []
        self.lock = threading.Lock()

    def start_loading(self) -> None:
        pass

    def wait_ready(self, timeout=None) -> bool:
        return True

    def embed(self, texts):
        with self.lock:
            self.calls += 1
            self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                h = int(hashlib.md5(w.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)
