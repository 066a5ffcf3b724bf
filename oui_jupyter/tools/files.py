"""``read_file`` (a range of lines) and ``list_files`` (a glob), confined to the root."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from .base import BlockingTool, ToolContext, ToolError, ToolLimits, ToolResult, clip
from .paths import Confined

#: bytes looked at for a NUL to tell a binary file
BINARY_PROBE = 8192


class ReadFileTool(BlockingTool):
    name = "read_file"
    workspace = True
    description = (
        "Read lines of a text file in the workspace. Paths are relative to the workspace "
        "root. Lines are numbered from 1; the answer says how many lines the file has."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "maxLength": 4096},
            "start_line": {"type": "integer", "minimum": 1, "default": 1},
            "end_line": {
                "type": "integer",
                "minimum": 1,
                "description": "the last line to read (default: as many as the limit allows)",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    def __init__(self, limits: ToolLimits) -> None:
        self.limits = limits

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        real, rel = Confined(context.root_dir).resolve(args["path"])
        start = int(args.get("start_line", 1))
        end = int(args.get("end_line") or start + self.limits.max_lines - 1)
        if end < start:
            raise ToolError(f"read_file: end_line {end} is before start_line {start}")
        end = min(end, start + self.limits.max_lines - 1)
        size = os.path.getsize(real)
        lines: list[str] = []
        total: int | None = 0
        with open(real, "rb") as f:
            if b"\x00" in f.read(BINARY_PROBE):
                raise ToolError(f"'{rel}' is a binary file; read_file reads text")
            f.seek(0)
            for n, raw in enumerate(f, start=1):
                if start <= n <= end:
                    lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                elif n > end and size > self.limits.max_file_bytes:
                    total = None  # too large to count to the end
                    break
                total = n
        if total is not None and start > max(total, 1):
            raise ToolError(f"'{rel}' has {total} lines; start_line {start} is past the end")
        last = start + len(lines) - 1
        text = "\n".join(lines)
        numbered = "\n".join(f"{start + i:>6}\t{line}" for i, line in enumerate(lines))
        of = f" of {total}" if total is not None else ""
        header = f"{rel}, lines {start}-{last}{of}" if lines else f"{rel} (empty)"
        content, cut = clip(f"{header}\n{numbered}", self.limits.max_output_chars)
        return ToolResult(
            content,
            {
                "path": rel,
                "start_line": start,
                "end_line": last,
                "total_lines": total,
                "truncated": cut or (total is not None and last < total) or total is None,
                "text": clip(text, self.limits.max_output_chars)[0],
            },
        )


class ListFilesTool(BlockingTool):
    name = "list_files"
    workspace = True
    description = (
        "List files and folders of the workspace matching a glob, relative to the root: "
        "'*' and '?' match within a name, '**' any number of folders ('**/*.csv': every CSV "
        "file, 'data/*': what is in data). Hidden names are never listed."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "maxLength": 1024, "default": "*"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
        },
        "additionalProperties": False,
    }

    def __init__(self, limits: ToolLimits) -> None:
        self.limits = limits

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        pattern = args.get("pattern") or "*"
        limit = min(int(args.get("limit", 200)), self.limits.max_list_entries)
        entries, truncated = Confined(context.root_dir).glob(
            pattern, limit=limit, scan_limit=self.limits.list_scan_entries
        )
        rows = [
            {
                "path": e.rel,
                "type": "directory" if e.is_dir else "file",
                "size": e.size,
                "modified": round(e.mtime, 3),
            }
            for e in entries
        ]
        lines = [f"{e.rel}/" if e.is_dir else e.rel for e in entries]
        more = "\n(more entries not shown: narrow the pattern)" if truncated else ""
        head = f"{len(rows)} entries match '{pattern}'" if rows else f"nothing matches '{pattern}'"
        content, _ = clip("\n".join([head, *lines]) + more, self.limits.max_output_chars)
        return ToolResult(content, {"pattern": pattern, "entries": rows, "truncated": truncated})
