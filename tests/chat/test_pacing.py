"""The start pacer: a few turn starts per turn of the event loop, in order, none lost."""

from __future__ import annotations

import asyncio

from oui_jupyter.services.pacing import StartPacer


class LoopTurns:
    """Counts the turns of the event loop (a callback that re-schedules itself each turn)."""

    def __init__(self) -> None:
        self.count = 0
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_a_start_on_a_quiet_server_does_not_wait():
    pacer = StartPacer(per_loop_turn=2)
    turns = LoopTurns()
    await pacer.enter()
    assert turns.count == 0  # admitted without giving the loop a turn
    turns.stop()


async def test_a_burst_is_let_through_a_few_per_loop_turn_in_order():
    pacer = StartPacer(per_loop_turn=2)
    turns = LoopTurns()
    admitted: list[tuple[int, int]] = []

    async def start(i: int) -> None:
        await pacer.enter()
        admitted.append((i, turns.count))

    await asyncio.gather(*(start(i) for i in range(9)))
    turns.stop()
    assert [i for i, _ in admitted] == list(range(9))  # first come, first served
    per_turn: dict[int, int] = {}
    for _, turn in admitted:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) == 2  # never more than the budget in one turn
    assert len(per_turn) >= 5  # 9 starts at 2 a turn: spread over at least 5 turns


async def test_a_cancelled_start_gives_its_place_up():
    pacer = StartPacer(per_loop_turn=1)
    starts = [asyncio.ensure_future(pacer.enter()) for _ in range(4)]
    await asyncio.sleep(0)  # the first spent this turn's budget; the others wait
    assert starts[0].done() and not any(s.done() for s in starts[1:])
    starts[1].cancel()
    await asyncio.wait_for(asyncio.gather(starts[2], starts[3]), 5)
    assert starts[1].cancelled()
    await asyncio.wait_for(pacer.enter(), 5)  # and the pacer still admits afterwards
