"""Paths a tool may touch: relative, inside ``root_dir`` after following links, not hidden.

The root and the containment test are the workspace index's (``Workspace``); on top of
it a tool's path is refused when it is absolute, has a ``..`` part, names a hidden file or
folder (a part starting with ``.``), or leads out of the root or into a hidden place
through a symlink. Every refusal is a ``ToolError`` that says why.
"""

from __future__ import annotations

import os
import re
import stat as stat_mod
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from oui_jupyter.services.retrieval.workspace import Workspace

from .base import ToolError

Kind = Literal["file", "dir"]
_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Entry:
    rel: str  # POSIX, relative to the root
    is_dir: bool
    size: int
    mtime: float


class Confined:
    def __init__(self, root_dir: str) -> None:
        self.workspace = Workspace(root_dir, exclude=(), use_gitignore=False)
        self.root = self.workspace.root

    def clean(self, path: str, *, allow_root: bool = False) -> str:
        """``path`` normalised to POSIX parts (``""``: the root), or ``ToolError``."""
        if not isinstance(path, str) or "\x00" in path:
            raise ToolError("the path is not a valid path")
        raw = path.strip().replace("\\", "/")
        if "://" in raw:
            raise ToolError(f"'{path}': URLs are refused; give a path inside the workspace")
        if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
            raise ToolError(
                f"'{path}': absolute paths are refused; give a path relative to the workspace"
            )
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ToolError(f"'{path}': '..' is refused; paths stay inside the workspace")
        if any(p.startswith(".") for p in parts):
            raise ToolError(f"'{path}': hidden files and folders are refused")
        if not parts and not allow_root:
            raise ToolError("the path is empty")
        return "/".join(parts)

    def resolve(self, path: str, kind: Kind = "file") -> tuple[str, str]:
        """``(real absolute path, clean relative path)`` of an existing file or folder."""
        rel = self.clean(path, allow_root=kind == "dir")
        joined = os.path.join(self.root, rel) if rel else self.root
        real = self.inside(joined, path)
        try:
            st = os.stat(real)
        except OSError:
            what = "folder" if kind == "dir" else "file"
            raise ToolError(f"'{rel or '.'}': no such {what}") from None
        if kind == "file" and not stat_mod.S_ISREG(st.st_mode):
            what = "a folder" if stat_mod.S_ISDIR(st.st_mode) else "not a regular file"
            raise ToolError(f"'{rel}' is {what}")
        if kind == "dir" and not stat_mod.S_ISDIR(st.st_mode):
            raise ToolError(f"'{rel}' is not a folder")
        return real, rel

    def inside(self, joined: str, shown: str) -> str:
        """The real path of ``joined`` if it is in the root and not hidden there."""
        real = os.path.realpath(joined)
        if not self.workspace.contains(real):
            raise ToolError(f"'{shown}' leads outside the workspace (a symlink); refused")
        rel = os.path.relpath(real, self.root).replace(os.sep, "/")
        if rel != "." and any(p.startswith(".") for p in rel.split("/")):
            raise ToolError(f"'{shown}' leads to a hidden file or folder (a symlink); refused")
        return real

    # -- listing ----------------------------------------------------------------------------
    def glob(
        self, pattern: str, *, limit: int, scan_limit: int, time_limit: float = 5.0
    ) -> tuple[list[Entry], bool]:
        """Entries matching the glob ``pattern`` (``*``, ``?``, ``[...]`` within a part,
        ``**`` across folders), sorted, at most ``limit``; and whether the walk stopped
        early. Hidden names are skipped; linked folders are not entered."""
        clean = self.clean(pattern, allow_root=True) or "*"
        parts = clean.split("/")
        fixed: list[str] = []
        for part in parts:
            if _MAGIC.search(part) or part == "**":
                break
            fixed.append(part)
        rest = parts[len(fixed) :]
        base = "/".join(fixed)
        if not rest:  # a plain path: the file or folder itself
            real, rel = self.resolve(base, "dir" if os.path.isdir(self._join(base)) else "file")
            return [_entry(rel, real)], False
        self.resolve(base, "dir")
        regex = glob_regex("/".join(rest))
        depth = None if "**" in rest else len(rest)
        found: list[Entry] = []
        stopped = False
        deadline = time.monotonic() + time_limit
        for n, entry in enumerate(self._walk(base, depth)):
            if n >= scan_limit or time.monotonic() > deadline:
                stopped = True
                break
            sub = entry.rel[len(base) + 1 :] if base else entry.rel
            if regex.fullmatch(sub):
                found.append(entry)
        found.sort(key=lambda e: e.rel)
        if len(found) > limit:
            return found[:limit], True
        return found, stopped

    def _join(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def _walk(self, base: str, depth: int | None) -> Iterator[Entry]:
        stack = [(base, 0)]
        while stack:
            dir_rel, level = stack.pop()
            try:
                with os.scandir(self._join(dir_rel)) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            for item in entries:
                if item.name.startswith("."):
                    continue
                rel = f"{dir_rel}/{item.name}" if dir_rel else item.name
                try:
                    if item.is_symlink():
                        real = self.inside(item.path, rel)
                        st = os.stat(real)
                        if not stat_mod.S_ISREG(st.st_mode):
                            continue  # linked folders are listed nowhere, never entered
                        yield Entry(rel, False, st.st_size, st.st_mtime)
                        continue
                    st = item.stat(follow_symlinks=False)
                except (OSError, ToolError):
                    continue
                is_dir = stat_mod.S_ISDIR(st.st_mode)
                if not is_dir and not stat_mod.S_ISREG(st.st_mode):
                    continue
                yield Entry(rel, is_dir, 0 if is_dir else st.st_size, st.st_mtime)
                if is_dir and (depth is None or level + 1 < depth):
                    stack.append((rel, level + 1))


def _entry(rel: str, real: str) -> Entry:
    st = os.stat(real)
    is_dir = stat_mod.S_ISDIR(st.st_mode)
    return Entry(rel or ".", is_dir, 0 if is_dir else st.st_size, st.st_mtime)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression of a glob over POSIX relative paths."""
    out: list[str] = []
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        j = 0
        while j < len(part):
            c = part[j]
            if c == "*":
                out.append("[^/]*")
            elif c == "?":
                out.append("[^/]")
            elif c == "[":
                end = part.find("]", j + 2 if part[j + 1 : j + 2] in ("!", "^") else j + 1)
                if end < 0:
                    out.append(re.escape(c))
                else:
                    body = part[j + 1 : end]
                    if body[:1] in ("!", "^"):
                        body = "^" + body[1:]
                    out.append("[" + body.replace("\\", "\\\\") + "]")
                    j = end
            else:
                out.append(re.escape(c))
            j += 1
        if not last:
            out.append("/")
    return re.compile("".join(out))
