"""Turn starts, paced: the answers already streaming come before the ones being started.

Starting a turn costs the event loop about a millisecond (parse, authorize, the turn's SQL,
building the upstream request). A burst of 200 starts (a class pressing Send together) ran
in one turn of the loop: a ~200 ms pause of every running stream. The pacer lets a few
starts through per turn of the loop; the others wait, in order, while the loop serves the
streams' I/O in between. A start on a quiet server never waits.
"""

from __future__ import annotations

import asyncio
from collections import deque


class StartPacer:
    def __init__(self, per_loop_turn: int = 2) -> None:
        self.per_loop_turn = max(1, per_loop_turn)
        self._admitted = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._tick_scheduled = False

    async def enter(self) -> None:
        """Return when this start may run: at once if few have started in this loop turn."""
        if self._admitted < self.per_loop_turn and not self._waiting:
            self._admitted += 1
            self._schedule_tick()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._schedule_tick()
        await waiter

    def _schedule_tick(self) -> None:
        if not self._tick_scheduled:
            self._tick_scheduled = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        """The next turn of the loop: a new budget, spent on the longest waiting."""
        self._tick_scheduled = False
        self._admitted = 0
        while self._waiting and self._admitted < self.per_loop_turn:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled start (client gone, stop) gives its place up
                waiter.set_result(None)
                self._admitted += 1
        if self._waiting:
            self._schedule_tick()
