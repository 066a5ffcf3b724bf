"""The sql tool: DuckDB over the workspace's files, and nothing else."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from oui_jupyter.tools.base import ToolContext, ToolError, ToolResult, ToolTimeout
from oui_jupyter.tools.builtin import builtin_tools
from oui_jupyter.tools.registry import ToolRegistry


def sql(registry: ToolRegistry, ctx: ToolContext, query: str, **more: Any) -> ToolResult:
    return asyncio.run(registry.run("sql", {"query": query, **more}, ctx))


def refused(registry: ToolRegistry, ctx: ToolContext, query: str) -> str:
    with pytest.raises(ToolError) as info:
        sql(registry, ctx, query)
    return info.value.message


def test_group_by_over_csv(registry, ctx):
    result = sql(
        registry,
        ctx,
        "SELECT region, sum(amount) AS total FROM 'data/sales.csv' GROUP BY region ORDER BY total DESC",
    )
    assert result.data["columns"] == ["region", "total"]
    assert result.data["rows"] == [["north", 17], ["south", 5], ["east", 1]]
    assert result.content.splitlines()[:3] == ["3 rows", "| region | total |", "|---|---|"]


def test_parquet_json_links_inside_and_read_functions(registry, ctx):
    rows = sql(
        registry,
        ctx,
        "SELECT g, count(*) FROM read_parquet('data/nums.parquet') GROUP BY g ORDER BY g",
    )
    assert rows.data["rows"] == [[0, 34], [1, 33], [2, 33]]
    events = sql(registry, ctx, 'SELECT kind, n FROM "data/events.jsonl" ORDER BY n')
    assert events.data["rows"] == [["a", 1], ["b", 2]]
    joined = sql(
        registry,
        ctx,
        "WITH a AS (SELECT * FROM read_csv('data/alias.csv', header = true)) "
        "SELECT count(*) FROM a JOIN 'data/sales.csv' s USING (region)",
    )
    assert joined.data["rows"] == [[6]]


def test_rows_are_capped(registry, ctx):
    result = sql(registry, ctx, "SELECT * FROM range(10000)", max_rows=3)
    assert result.data["rows"] == [[0], [1], [2]] and result.data["truncated"]
    assert "only the first 3 rows" in result.content


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "DROP TABLE t",
        "COPY (SELECT 1) TO 'out.csv'",
        "COPY (SELECT * FROM 'data/sales.csv') TO 'data/copy.csv'",
        "EXPORT DATABASE 'dump'",
        "ATTACH 'other.duckdb'",
        "ATTACH ':memory:' AS m",
        "INSTALL httpfs",
        "LOAD httpfs",
        "LOAD 'data/evil.duckdb_extension'",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "CALL pragma_version()",
        "SELECT 1; DROP TABLE t",
        "SELECT 1; SELECT 2",
    ],
)
def test_refuses_everything_but_one_select(registry, ctx, root, query):
    message = refused(registry, ctx, query)
    assert "only SELECT" in message or "exactly one statement" in message
    assert sorted(
        p.name for p in root.iterdir() if p.name.startswith(("out", "dump", "other"))
    ) == [
        "out.txt",
        "outdir",
    ]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SELECT * FROM '../outside/secret.csv'", "'..' is refused"),
        ("SELECT * FROM read_csv('{outside}/secret.csv')", "absolute paths are refused"),
        ("SELECT * FROM 'data/out.csv'", "leads outside the workspace"),
        ("SELECT * FROM 'data/to_hidden.csv'", "leads to a hidden file"),
        ("SELECT * FROM '.secret.csv'", "hidden files and folders are refused"),
        ('SELECT * FROM ".hidden/x.csv"', "hidden files and folders are refused"),
        ("SELECT * FROM 'data/*.csv'", "globs are not supported"),
        ("SELECT * FROM 'missing.csv'", "no such file"),
        ("SELECT * FROM read_text('{outside}/secret.txt')", "only the workspace's"),
        ("SELECT * FROM read_text('notes.md')", "only the workspace's"),
        ("SELECT * FROM read_csv('/etc/passwd')", "only the workspace's"),
        ("SELECT * FROM glob('{outside}/*')", "only the workspace's"),
        ("SELECT * FROM read_csv(E'{outside}/secret.csv')", "only the workspace's"),
        ("SELECT * FROM 'https://example.com/x.csv'", "URLs are refused"),
        ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "URLs are refused"),
        ("SELECT * FROM query('SELECT * FROM ''../outside/secret.csv''')", ""),
    ],
)
def test_refuses_files_outside_the_root(registry, ctx, outside, query, why):
    message = refused(registry, ctx, query.format(outside=outside))
    assert why in message
    assert not any(leak in message for leak in ("top secret", "secret,1", "hidden,"))


def test_a_long_query_is_interrupted(limits, ctx):
    registry = ToolRegistry(
        builtin_tools(None, replace(limits, sql_timeout=0.3)), entry_points=False
    )
    with pytest.raises(ToolTimeout, match=r"ran past 0\.3 s"):
        sql(registry, ctx, "SELECT sum(a.range * b.range) FROM range(100000) a, range(1000000) b")


def test_errors_are_short_and_clear(registry, ctx):
    assert refused(registry, ctx, "SELEC 1").startswith("sql: Parser Error")
    assert "no_such_column" in refused(registry, ctx, "SELECT no_such_column FROM 'data/sales.csv'")


def test_values_become_json(registry, ctx):
    result = sql(
        registry,
        ctx,
        "SELECT 1.5::DECIMAL(4,2) AS d, DATE '2024-01-02' AS day, [1, 2] AS l, "
        "{'a': 1} AS s, 'nan'::DOUBLE AS n, NULL AS z, repeat('x', 500) AS long",
    )
    d, day, lst, struct, nan, null, long = result.data["rows"][0]
    assert (d, day, lst, struct, nan, null) == ("1.50", "2024-01-02", [1, 2], {"a": 1}, "nan", None)
    assert len(long) == 203 and long.endswith("...")


def test_paths_after_non_ascii_text(registry, ctx):
    result = sql(registry, ctx, "SELECT 'ééé' AS x, count(*) AS n FROM 'data/sales.csv' -- 'ü'")
    assert result.data["rows"] == [["ééé", 4]]
