"""The stations' shared tick: every playout wakes on the same beat, and the renders due
on a beat go to a worker thread as one job.

Fifteen stations each sleeping their own quarter second and each handing a render to
the executor woke the loop about 120 times a second (a timer, then the thread's reply,
per station), and each wake-up contends for the GIL with the renders themselves. On
a shared beat the loop wakes twice per tick for all of them (#8: the idle cost).
The price: a render that blocks (a track file on a disk that stalls) holds up every
station's that tick, not its own alone; the playout lead covers a short stall.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

Job = Callable[[], Any]
Waiting = list[tuple[Job, "asyncio.Future[Any]"]]


class Ticks:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._waiting: Waiting = []

    async def next(self) -> None:
        """Sleep until the next beat: multiples of the tick on the loop's clock, so every
        station sleeping here wakes in the same turn of the loop."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        beat = (math.floor(now / self.seconds) + 1) * self.seconds
        await asyncio.sleep(beat - now)

    async def render(self, job: Callable[[], T]) -> T:
        """`job`'s result, run on a worker thread together with every job handed in during
        the same turn of the loop (one after another, in the order they came)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._waiting:  # the first of this turn: the rest come before it runs
            loop.call_soon(self._hand_over, loop)
        self._waiting.append((job, future))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            done = loop.run_in_executor(None, _run_all, [job for job, _ in waiting])
        except RuntimeError as exc:  # the executor is shut down: the loop is closing
            _settle(waiting, [(None, exc)] * len(waiting))
            return
        done.add_done_callback(partial(_settled, waiting))


Outcome = tuple[Any, BaseException | None]  # a job's result, or what it raised


def _run_all(jobs: list[Job]) -> list[Outcome]:
    """Worker thread: every job's outcome, so one station's failure is that station's alone."""
    outcomes: list[Outcome] = []
    for job in jobs:
        try:
            outcomes.append((job(), None))
        except Exception as exc:
            outcomes.append((None, exc))
    return outcomes


def _settled(waiting: Waiting, done: asyncio.Future[list[Outcome]]) -> None:
    try:
        outcomes = done.result()
    except BaseException as exc:  # the thread itself failed (jobs' own errors are outcomes)
        outcomes = [(None, exc)] * len(waiting)
    _settle(waiting, outcomes)


def _settle(waiting: Waiting, outcomes: list[Outcome]) -> None:
    for (_, future), (result, exc) in zip(waiting, outcomes, strict=True):
        if future.done():  # its station stopped while the job ran
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)
