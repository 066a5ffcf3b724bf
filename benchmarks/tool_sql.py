"""The sql tool vs DuckDB run directly: a group-by over one big CSV or Parquet file.

The file is made at run time in a temporary folder (the workspace root): ``--size-mb``
of CSV rows ``(id, region, category, amount, day)`` (1,024 MB by default), and with
``--format parquet`` the same rows as Parquet. Each run times the same query
``SELECT region, category, count(*), sum(amount), avg(amount) ... GROUP BY 1, 2``:

* direct: ``duckdb.connect()`` and the query on the absolute path, ``fetchall``;
* tool: ``ToolRegistry.run("sql", ...)`` as the tool loop calls it (argument checks, the
  path confinement and rewrite, a fresh locked-down connection, JSON rows).

Runs alternate (direct, tool, direct, ...) after one warm-up of each; the figure is the
ratio of the medians (the target: <= 1.2x).

    python benchmarks/tool_sql.py                       # 1 GB CSV
    python benchmarks/tool_sql.py --size-mb 100 --runs 3
    python benchmarks/tool_sql.py --format parquet
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

import duckdb

from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import ToolContext, ToolLimits
from oui_jupyter.tools.builtin import builtin_tools
from oui_jupyter.tools.registry import ToolRegistry

QUERY = (
    "SELECT region, category, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
    "FROM {table} GROUP BY region, category ORDER BY region, category"
)
ROW_BYTES = 42  # about, for the rows below as CSV


def make_csv(path: str, size_mb: int) -> int:
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT range AS id,
                   'region_' || (hash(range) % 50) AS region,
                   'cat_' || (hash(range + 7) % 20) AS category,
                   round((hash(range + 13) % 100000) / 100.0, 2) AS amount,
                   DATE '2024-01-01' + CAST(range % 365 AS INTEGER) AS day
            FROM range({rows})
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    return rows


def to_parquet(csv: str, path: str) -> None:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM '{csv}') TO '{path}' (FORMAT parquet)")
    con.close()


def direct(path: str) -> tuple[float, list[tuple]]:
    start = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(QUERY.format(table=f"'{path}'")).fetchall()
    con.close()
    return time.perf_counter() - start, rows


def tool(registry: ToolRegistry, ctx: ToolContext, rel: str) -> tuple[float, list[list]]:
    args = {"query": QUERY.format(table=f"'{rel}'"), "max_rows": 1000}
    start = time.perf_counter()
    result = asyncio.run(registry.run("sql", args, ctx))
    return time.perf_counter() - start, result.data["rows"]


def same(want: list[tuple], got: list[list]) -> bool:
    """Equal rows, floats to 1e-9 (a parallel sum adds in no fixed order)."""
    if len(want) != len(got):
        return False
    for a, b in zip(want, got, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > 1e-9 * max(1.0, abs(x)):
                    return False
            elif x != y:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oui-bench-sql-") as root:
        csv = os.path.join(root, "sales.csv")
        t0 = time.perf_counter()
        rows = make_csv(csv, opts.size_mb)
        path = csv
        if opts.format == "parquet":
            path = os.path.join(root, "sales.parquet")
            to_parquet(csv, path)
            os.remove(csv)
        made = time.perf_counter() - t0
        rel = os.path.basename(path)
        limits = ToolLimits(sql_timeout=3600.0)
        registry = ToolRegistry(builtin_tools(None, limits), entry_points=False, timeout=3600)
        user = UserInfo("bench", "bench", "bench", "user", ())
        ctx = ToolContext(user=user, root_dir=root)
        _, want = direct(path)
        _, got = tool(registry, ctx, rel)
        assert same(want, got), "the tool and DuckDB disagree"
        direct_s: list[float] = []
        tool_s: list[float] = []
        for _ in range(opts.runs):
            direct_s.append(direct(path)[0])
            tool_s.append(tool(registry, ctx, rel)[0])
        d, t = statistics.median(direct_s), statistics.median(tool_s)
        report = {
            "format": opts.format,
            "file_mb": round(os.path.getsize(path) / 1024 / 1024, 1),
            "rows": rows,
            "groups": len(got),
            "runs": opts.runs,
            "cpus": os.cpu_count(),
            "made_s": round(made, 1),
            "direct_median_s": round(d, 3),
            "tool_median_s": round(t, 3),
            "direct_s": [round(x, 3) for x in direct_s],
            "tool_s": [round(x, 3) for x in tool_s],
            "ratio": round(t / d, 3),
            "target": "<= 1.2",
        }
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
