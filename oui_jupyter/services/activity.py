"""Chats come first: how many turns are running, for background work to yield to them.

A turn holds a ``Hold`` from its start (before retrieval) until its answer ends; the workspace
index's embedding waits for no turn to be running before each batch (``wait_quiet``), and the
embedding model is loaded only then (``when_quiet``). Keyword indexing does not wait, as it
makes new files searchable at once, but pauses before each file while a turn runs (``busy``).

Thread-safe: holds are taken on the event loop, the waiting happens in worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Hold:
    """One running turn; ``release`` is idempotent (a turn may end by several paths)."""

    __slots__ = ("_activity", "_released")

    def __init__(self, activity: GenerationActivity) -> None:
        self._activity = activity
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._activity._leave()


class GenerationActivity:
    def __init__(self, settle: float = 0.2) -> None:
        """``settle``: how long no turn must have run before background work resumes (the
        next turn of a conversation often follows at once)."""
        self.settle = settle
        self._count = 0
        self._last_end = 0.0
        self._cond = threading.Condition()

    @property
    def busy(self) -> bool:
        return self._count > 0

    @property
    def running(self) -> int:
        return self._count

    def hold(self) -> Hold:
        with self._cond:
            self._count += 1
        return Hold(self)

    def _leave(self) -> None:
        with self._cond:
            self._count = max(self._count - 1, 0)
            self._last_end = time.monotonic()
            self._cond.notify_all()

    def wait_quiet(self, timeout: float | None = None, stop: threading.Event | None = None) -> bool:
        """Block until no turn runs (and none ended within ``settle`` seconds); False when
        ``timeout`` passed first or ``stop`` was set."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = time.monotonic()
                quiet_in = 0.0 if self._count else self._last_end + self.settle - now
                if not self._count and quiet_in <= 0:
                    return True
                if deadline is not None and now >= deadline:
                    return False
                wait = 0.5 if self._count else quiet_in
                if deadline is not None:
                    wait = min(wait, deadline - now)
                self._cond.wait(max(wait, 0.01))

    def when_quiet(self, work: Callable[[], object], name: str = "oui-when-quiet") -> None:
        """Run ``work`` in a daemon thread once no turn runs (at once when none does)."""

        def run() -> None:
            self.wait_quiet()
            work()

        threading.Thread(target=run, name=name, daemon=True).start()
