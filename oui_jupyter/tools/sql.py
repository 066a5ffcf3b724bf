"""``sql``: DuckDB over the workspace's CSV, Parquet and JSON files, read only.

Each call gets its own in-memory DuckDB. The query must be one ``SELECT`` (``WITH``,
``VALUES``, ``FROM``-first, ``DESCRIBE`` and ``SUMMARIZE`` included): DuckDB's own parser
says what a statement is, so writes, ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``
and ``PRAGMA`` never run. Files are named by their path relative to the root, as string
literals (``FROM 'data/sales.csv'``) or quoted names; each such path goes through the
file tools' confinement (``paths.Confined``) and is rewritten to its real absolute path.
Then DuckDB is locked down: ``enable_external_access=false`` with ``allowed_paths`` set to
exactly those files, extensions neither installed nor loaded, the configuration locked.
A timer interrupts the query at the time limit; at most ``max_rows`` rows are fetched.
"""

from __future__ import annotations

import datetime
import decimal
import math
import threading
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from .base import BlockingTool, ToolContext, ToolError, ToolLimits, ToolResult, ToolTimeout, clip
from .paths import Confined

if TYPE_CHECKING:
    import duckdb

#: the files ``sql`` reads (a ``.gz`` of each too)
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl", ".ndjson")
_GLOB = ("*", "?", "[")


def is_data_path(value: str) -> bool:
    name = value.lower().removesuffix(".gz")
    return name.endswith(DATA_SUFFIXES)


def _literal_end(data: bytes, start: int, quote: int) -> int:
    """Offset just past the literal that opens with ``quote`` at ``start``."""
    i = start + 1
    while i < len(data):
        if data[i] == quote:
            if i + 1 < len(data) and data[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(data)


def rewrite_paths(query: str, confined: Confined) -> tuple[str, list[str]]:
    """``query`` with each quoted data-file path replaced by its real absolute path, and
    those paths. A path that the confinement refuses is a ``ToolError``. (DuckDB's
    tokenizer answers offsets in the UTF-8 bytes.)"""
    import duckdb

    data = query.encode()
    pieces: list[bytes] = []
    files: list[str] = []
    done = 0
    for start, kind in duckdb.tokenize(query):
        if kind not in (duckdb.token_type.string_const, duckdb.token_type.identifier):
            continue
        quote = data[start]
        if quote not in b"'\"":
            continue
        end = _literal_end(data, start, quote)
        mark = chr(quote)
        value = data[start + 1 : end - 1].decode().replace(mark * 2, mark)
        if not is_data_path(value):
            continue
        if any(c in value for c in _GLOB):
            raise ToolError(
                f"sql: '{value}': globs are not supported; name each file "
                "(and combine them with UNION ALL BY NAME)"
            )
        real, _ = confined.resolve(value)
        pieces += [data[done:start], (mark + real.replace(mark, mark * 2) + mark).encode()]
        done = end
        if real not in files:
            files.append(real)
    pieces.append(data[done:])
    return b"".join(pieces).decode(), files


def cell(value: Any, limit: int) -> Any:
    """A DuckDB value as JSON (text for what JSON has no type for), long text cut."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "..."
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, (list, tuple)):
        return [cell(v, limit) for v in value[:50]]
    if isinstance(value, dict):
        return {str(k): cell(v, limit) for k, v in list(value.items())[:50]}
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, datetime.timedelta)):
        return str(value)
    return cell(str(value), limit)


def table_text(columns: list[str], rows: list[list[Any]]) -> str:
    """A small Markdown table."""

    def text(value: Any) -> str:
        shown = "NULL" if value is None else str(value)
        return shown.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(text, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(text, row)) + " |" for row in rows]
    return "\n".join(lines)


class SqlTool(BlockingTool):
    name = "sql"
    workspace = True
    description = (
        "Run one read-only DuckDB SELECT over the workspace's CSV, TSV, Parquet and JSON "
        "files, named by their path relative to the root in quotes: "
        "SELECT region, sum(amount) FROM 'data/sales.csv' GROUP BY region. "
        "read_csv('...', ...) and read_parquet('...') take the same paths. The answer is a "
        "small table: aggregate or LIMIT in the query."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 20_000},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
        },
        "required": ["query"],
        "additionalProperties": False,
    }

    def __init__(self, limits: ToolLimits) -> None:
        self.limits = limits

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        import duckdb

        max_rows = min(int(args.get("max_rows", 50)), self.limits.sql_max_rows)
        conn = duckdb.connect(
            ":memory:",
            config={"autoload_known_extensions": False, "autoinstall_known_extensions": False},
        )
        timer = threading.Timer(self.limits.sql_timeout, _interrupt, [conn])
        try:
            query = self._checked(conn, args["query"])
            query, files = rewrite_paths(query, Confined(context.root_dir))
            self._lock_down(conn, files)
            timer.start()
            try:
                result = conn.execute(query)
                columns = [d[0] for d in result.description or []]
                fetched = result.fetchmany(max_rows + 1)
            except duckdb.InterruptException:
                raise ToolTimeout(
                    f"sql: the query ran past {self.limits.sql_timeout:g} s and was stopped"
                ) from None
            except duckdb.PermissionException:
                raise ToolError(
                    "sql: only the workspace's CSV, TSV, Parquet and JSON files can be read: "
                    "name each by its path relative to the root, in quotes "
                    "(FROM 'data/sales.csv')"
                ) from None
            except duckdb.Error as exc:
                raise ToolError(f"sql: {_first_line(exc)}") from None
        finally:
            timer.cancel()
            conn.close()
        truncated = len(fetched) > max_rows
        limit = self.limits.max_cell_chars
        rows = [[cell(v, limit) for v in row] for row in fetched[:max_rows]]
        more = f"\n(only the first {max_rows} rows: aggregate or add a LIMIT)" if truncated else ""
        count = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
        content, _ = clip(
            f"{count}\n{table_text(columns, rows)}{more}", self.limits.max_output_chars
        )
        data = {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}
        return ToolResult(content, data)

    @staticmethod
    def _checked(conn: duckdb.DuckDBPyConnection, query: str) -> str:
        import duckdb

        try:
            statements = conn.extract_statements(query)
        except duckdb.Error as exc:
            raise ToolError(f"sql: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise ToolError(f"sql: send exactly one statement (got {len(statements)})")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise ToolError(
                f"sql: only SELECT queries are allowed (read only); this is {kind.name}"
            )
        return query

    def _lock_down(self, conn: duckdb.DuckDBPyConnection, files: list[str]) -> None:
        conn.execute("SET allowed_paths = ?", [files])
        conn.execute("SET allowed_directories = ?", [[]])
        if self.limits.sql_memory_limit:
            conn.execute("SET memory_limit = ?", [self.limits.sql_memory_limit])
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")


def _interrupt(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.interrupt()
    except Exception:  # closed meanwhile: the query is over anyway
        pass


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0][:500] if lines else type(exc).__name__
