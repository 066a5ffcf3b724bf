"""The server's root_dir as a set of indexable files.

Walks the tree honouring ``.gitignore`` files (at any depth, via ``pathspec``), hidden
names, an exclude list (gitignore syntax) and a size limit. Every path is resolved
(symlinks included) and must stay inside the root: a link out of the root is skipped, and
linked directories are never descended into (no cycles, no escapes).
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .defaults import DEFAULT_EXCLUDE
from .loaders import is_supported

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec


@dataclass
class FileStat:
    rel: str  # POSIX path relative to the root
    abs: str
    size: int
    mtime: float
    skip: str | None = None  # why it will not be indexed (None: index it)


class Workspace:
    def __init__(
        self,
        root_dir: str,
        *,
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
        max_file_size: int = 10 * 1024 * 1024,
        include_hidden: bool = False,
        use_gitignore: bool = True,
    ) -> None:
        self.root = os.path.realpath(os.path.abspath(os.path.expanduser(root_dir)))
        self.exclude = list(exclude)
        self.max_file_size = max_file_size
        self.include_hidden = include_hidden
        self.use_gitignore = use_gitignore
        self._exclude_spec: GitIgnoreSpec | None = None
        self._gitignores: dict[
            str, GitIgnoreSpec | None
        ] = {}  # dir rel -> spec (or None), cached by mtime
        self._gitignore_mtimes: dict[str, float] = {}

    # -- paths --------------------------------------------------------------------------
    def contains(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def resolve(self, rel: str) -> str | None:
        """Absolute path of ``rel`` if it (after following links) lies inside the root."""
        if "\x00" in rel:
            return None  # no file has one in its name (and the OS calls refuse it)
        rel = rel.replace("\\", "/").lstrip("/")
        path = os.path.normpath(os.path.join(self.root, rel))
        if not (path == self.root or path.startswith(self.root + os.sep)):
            return None
        return path if self.contains(path) else None

    def rel(self, path: str) -> str:
        """POSIX path relative to the root of an absolute or relative ``path``."""
        if not os.path.isabs(path):
            return os.path.normpath(path).replace(os.sep, "/").lstrip("/")
        return os.path.relpath(os.path.normpath(path), self.root).replace(os.sep, "/")

    # -- rules --------------------------------------------------------------------------
    def set_exclude(self, patterns: Sequence[str]) -> None:
        """Replace the exclude list (gitignore syntax); takes effect at the next walk."""
        self.exclude = list(patterns)
        self._exclude_spec = None

    def _spec(self) -> GitIgnoreSpec:
        if self._exclude_spec is None:
            import pathspec

            self._exclude_spec = pathspec.GitIgnoreSpec.from_lines(self.exclude)
        return self._exclude_spec

    def _gitignore(self, dir_rel: str) -> GitIgnoreSpec | None:
        if not self.use_gitignore:
            return None
        path = os.path.join(self.root, dir_rel, ".gitignore")
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            self._gitignores.pop(dir_rel, None)
            return None
        if self._gitignore_mtimes.get(dir_rel) != mtime:
            import pathspec

            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    self._gitignores[dir_rel] = pathspec.GitIgnoreSpec.from_lines(
                        f.read().splitlines()
                    )
            except OSError:
                self._gitignores[dir_rel] = None
            self._gitignore_mtimes[dir_rel] = mtime
        return self._gitignores.get(dir_rel)

    def is_excluded(self, rel: str, is_dir: bool = False) -> bool:
        """Is ``rel`` (or any folder above it) excluded, hidden or git-ignored?"""
        parts = rel.split("/")
        for i in range(len(parts)):
            sub = "/".join(parts[: i + 1])
            sub_is_dir = is_dir or i < len(parts) - 1
            if self._excluded_here(sub, sub_is_dir):
                return True
        return False

    def _excluded_here(self, rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        if not self.include_hidden and name.startswith(".") and name not in (".", ".."):
            return True
        probe = rel + "/" if is_dir else rel
        if self._spec().match_file(probe):
            return True
        if self.use_gitignore:
            parts = rel.split("/")
            for depth in range(len(parts)):
                dir_rel = "/".join(parts[:depth])
                spec = self._gitignore(dir_rel)
                if spec is not None:
                    sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
                    if spec.match_file(sub):
                        return True
        return False

    # -- files --------------------------------------------------------------------------
    def stat(self, rel: str) -> FileStat | None:
        """Stat one file: ``None`` if it is gone, not a file, or excluded; ``skip`` set when
        it exists but will not be indexed (outside root, too large, unknown type)."""
        path = os.path.join(self.root, rel)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat_mod.S_ISDIR(st.st_mode) or self.is_excluded(rel):
            return None
        if stat_mod.S_ISLNK(st.st_mode):
            if not self.contains(path):
                return FileStat(rel, path, 0, 0.0, "outside_root")
            try:
                st = os.stat(path)
            except OSError:
                return None
            if not stat_mod.S_ISREG(st.st_mode):
                return None
        elif not stat_mod.S_ISREG(st.st_mode):
            return None
        fs = FileStat(rel, path, st.st_size, st.st_mtime)
        if not is_supported(rel):
            fs.skip = "unsupported"
        elif st.st_size > self.max_file_size:
            fs.skip = "too_large"
        return fs

    def walk(self) -> Iterator[FileStat]:
        """Every candidate file under the root (excluded ones are not yielded at all)."""
        stack = [""]
        while stack:
            dir_rel = stack.pop()
            try:
                entries = list(os.scandir(os.path.join(self.root, dir_rel)))
            except OSError:
                continue
            entries.sort(key=lambda e: e.name)
            for entry in entries:
                rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if not self._excluded_here(rel, True):
                        stack.append(rel)
                    continue
                if is_link and os.path.isdir(entry.path):
                    continue  # never descend into linked folders
                if self._excluded_here(rel, False):
                    continue
                if is_link:
                    fs = self.stat(rel)
                    if fs is not None:
                        yield fs
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat_mod.S_ISREG(st.st_mode):
                    continue
                fs = FileStat(rel, entry.path, st.st_size, st.st_mtime)
                if not is_supported(rel):
                    fs.skip = "unsupported"
                elif st.st_size > self.max_file_size:
                    fs.skip = "too_large"
                yield fs

    def read(self, fs: FileStat) -> bytes:
        """Read a file, re-checking containment at open time (a link may have changed)."""
        real = os.path.realpath(fs.abs)
        if not self.contains(real):
            raise PermissionError("path leaves the root")
        with open(real, "rb") as f:
            return f.read(self.max_file_size + 1)
