from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from radio import ticks
from radio.ticks import Ticks
from tests.support import StartServer, on_air, short_lineup, wait_until


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting the jobs handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_renders_handed_in_the_same_turn_run_as_one_job_on_one_thread() -> None:
    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    shared = Ticks(0.05)
    ran: list[tuple[int, int]] = []

    def job(n: int) -> int:
        ran.append((n, threading.get_ident()))
        return n * 10

    results = await asyncio.gather(*(shared.render(lambda n=n: job(n)) for n in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert executor.submitted == 1
    assert [n for n, _ in ran] == [0, 1, 2, 3, 4]  # in the order they came
    assert len({thread for _, thread in ran}) == 1
    assert threading.get_ident() not in {thread for _, thread in ran}  # never on the loop


async def test_one_failing_job_fails_its_own_caller_only() -> None:
    shared = Ticks(0.05)

    def fails() -> int:
        raise RuntimeError("a bug in one station's render")

    outcomes = await asyncio.gather(
        shared.render(lambda: 1), shared.render(fails), shared.render(lambda: 3),
        return_exceptions=True,
    )  # fmt: skip
    assert outcomes[0] == 1 and outcomes[2] == 3
    assert isinstance(outcomes[1], RuntimeError)


async def test_a_caller_cancelled_mid_job_leaves_the_others_their_results() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    shared = Ticks(0.05)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "slow"

    stopped = asyncio.create_task(shared.render(slow))
    kept = asyncio.create_task(shared.render(lambda: "kept"))
    await asyncio.to_thread(started.wait, 10)
    stopped.cancel()
    release.set()
    assert await kept == "kept"
    with pytest.raises(asyncio.CancelledError):
        await stopped
    assert errors == []  # no "invalid state" from settling the cancelled one


async def test_sleepers_started_apart_wake_together_on_the_beat() -> None:
    loop = asyncio.get_running_loop()
    shared = Ticks(0.5)
    woke: list[float] = []

    async def sleeper(offset: float) -> None:
        await asyncio.sleep(offset)
        await shared.next()
        woke.append(loop.time())

    await shared.next()  # just past a beat: both sleepers start within the same tick
    await asyncio.gather(sleeper(0.0), sleeper(0.1))
    # Each slept only to the beat: own quarter-second sleeps would wake 0.1 s apart.
    assert abs(woke[0] - woke[1]) < 0.05
    assert {round(t / shared.seconds) for t in woke} == {round(woke[0] / shared.seconds)}
    assert all(abs(t - round(t / shared.seconds) * shared.seconds) < 0.05 for t in woke)


async def test_every_station_of_a_radio_renders_in_one_job_per_tick(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    run_all = ticks._run_all

    def counted(jobs: list[ticks.Job]) -> list[ticks.Outcome]:
        batches.append(len(jobs))
        return run_all(jobs)

    monkeypatch.setattr(ticks, "_run_all", counted)
    _, radio = await start_server(short_lineup())
    await on_air(radio)
    batches.clear()
    await wait_until(lambda: len(batches) >= 8, 10, "eight ticks")
    assert len(radio.on_air) == 2
    assert set(batches) == {2}
