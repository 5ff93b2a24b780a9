from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radio import scheduler as scheduler_module
from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import parse_stations
from radio.scheduler import (
    FIRST_TRACK_SECONDS,
    Scheduler,
    finish_generation,
    in_daemon_thread,
    thread_cpu,
)
from radio.tracks import NewTrack
from tests.dummies import HungGenerator, ToneGenerator, TonePool
from tests.support import short_lineup, wait_until

THREE = (
    short_lineup(track_seconds=3)
    + """
[[stations]]
id = "folk"
name = "Hearthside Folk"
genre = "Folk"
description = "Acoustic."
prompt = "{mood} folk"
pools = { mood = ["bright", "hushed"] }
"""
)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogWriter]:
    with CatalogWriter(tmp_path / "catalog.db") as writer:
        yield writer


def scheduler(
    catalog: CatalogWriter, generator: ToneGenerator, ahead: dict[str, float]
) -> Scheduler:
    tmp_path = Path(str(catalog.path)).parent
    lineup = parse_stations(THREE)
    return Scheduler(
        stations=lambda: lineup.stations,
        generator=generator,
        backlog=Backlog(catalog, tmp_path),
        catalog=catalog,
        cache_dir=tmp_path,
        seconds_ahead=lambda sid: ahead.get(sid, 0.0),
    )


def test_plan_serves_the_station_that_runs_dry_soonest_first(catalog: CatalogWriter) -> None:
    ahead = {"jazz": 5.0, "metal": 1.0, "folk": 20.0}  # the target is 0.2 min = 12 s
    plan = scheduler(catalog, ToneGenerator(max_batch=4), ahead).plan()
    assert [s.id for s in plan] == ["metal", "jazz"]  # folk is above target
    assert [s.id for s in scheduler(catalog, ToneGenerator(max_batch=1), ahead).plan()] == ["metal"]


def test_idle_workers_share_the_short_stations_soonest_dry_first(catalog: CatalogWriter) -> None:
    ahead = {"jazz": 5.0, "metal": 1.0, "folk": 0.5}
    pool = scheduler(catalog, TonePool(size=2), ahead)
    batches = [[p.request.station for p in batch] for batch in pool.batches(pool.free())]
    assert batches == [["folk", "metal"], ["jazz"]]
    local = scheduler(catalog, ToneGenerator(), ahead)
    assert [[p.request.station for p in b] for b in local.batches(local.free())] == [
        ["folk", "metal", "jazz"]
    ]


async def test_a_pool_takes_one_batch_per_worker_at_once(catalog: CatalogWriter) -> None:
    generator = TonePool(size=3, max_batch=1)
    s = scheduler(catalog, generator, {})
    await s.fill()  # one round
    assert generator.refreshed == 1  # the pool was asked about its workers first
    assert s.free() == 0  # three batches in flight, one per worker
    await s.settle()
    assert sorted(c[0].station for c in generator.calls) == ["folk", "jazz", "metal"]
    assert s.batches_made == 3 and s.free() == 3


async def test_a_worker_that_joins_takes_a_batch_in_the_next_round(catalog: CatalogWriter) -> None:
    generator = TonePool(size=1, max_batch=1)
    generator.release.clear()  # batches stay in flight until released
    s = scheduler(catalog, generator, {})
    await s.fill()
    await wait_until(lambda: len(generator.begun) == 1, what="a batch on the one worker")
    assert s.free() == 0
    generator.size = 2  # a worker joins (the pool's refresh found it ready)
    await s.fill()  # the next round
    await wait_until(lambda: len(generator.begun) == 2, what="a batch on the new worker")
    assert s.free() == 0
    generator.release.set()
    await s.settle()


async def test_one_batch_serves_several_stations_and_fills_the_backlog(
    catalog: CatalogWriter,
) -> None:
    generator = ToneGenerator(max_batch=3)
    s = scheduler(catalog, generator, {})
    await s.fill()
    await s.settle()
    assert len(generator.calls) == 1
    assert sorted(r.station for r in generator.calls[0]) == ["folk", "jazz", "metal"]
    for station in ("jazz", "metal", "folk"):
        assert len(s.backlog.queued(station)) == 1
        assert s.stats[station].generated == 1
    rows = s.catalog.run_sync(lambda c: c.tracks())
    assert {r.seed for r in rows} == {r.seed for r in generator.calls[0]}
    assert all(r.generator == "tone" and r.prompt for r in rows)


async def test_a_failing_generator_is_logged_and_counted(
    catalog: CatalogWriter, caplog: pytest.LogCaptureFixture
) -> None:
    s = scheduler(catalog, ToneGenerator(fail=True), {})
    with caplog.at_level(logging.ERROR):
        await s.fill()
        await s.settle()
    assert "generation failed" in caplog.text and "broken on purpose" in caplog.text
    assert all(s.stats[sid].failed == 1 for sid in ("jazz", "metal", "folk"))
    assert s.ahead("jazz") == 0.0  # nothing left counted as in flight
    await s.stop()


async def test_a_failing_generator_is_given_a_growing_rest(
    catalog: CatalogWriter, caplog: pytest.LogCaptureFixture
) -> None:
    generator = ToneGenerator(fail=True)
    s = scheduler(catalog, generator, {})

    async def tick() -> int:
        await s.fill()
        await s.settle()
        return len(generator.calls)

    with caplog.at_level(logging.ERROR):
        assert [await tick() for _ in range(5)] == [1] * 5  # not again at once

        async def tried_twice() -> bool:
            return await tick() >= 2

        await wait_until(tried_twice, 5, "a second try, a second later")
    assert "retrying in 1 s" in caplog.text and "retrying in 2 s" in caplog.text
    await s.stop()


async def test_stopping_abandons_a_hung_generator_at_once(
    catalog: CatalogWriter, caplog: pytest.LogCaptureFixture
) -> None:
    generator = HungGenerator()
    s = scheduler(catalog, generator, {})
    await s.fill()
    await wait_until(generator.started.is_set, 5, "generation under way")
    try:
        with caplog.at_level(logging.WARNING):
            await asyncio.wait_for(s.stop(), 2)
    finally:
        generator.release.set()
    assert "abandoning generation in flight for jazz (seed" in caplog.text


def test_an_empty_station_gets_a_short_first_track(catalog: CatalogWriter) -> None:
    ahead = {"jazz": 0.0, "metal": 5.0}
    s = scheduler(catalog, ToneGenerator(), ahead)
    lineup = parse_stations(short_lineup(track_seconds=90, crossfade_seconds=3))
    jazz, metal = lineup.get("jazz"), lineup.get("metal")
    assert jazz is not None and metal is not None
    assert s.request_for(jazz).request.seconds == FIRST_TRACK_SECONDS
    assert s.request_for(metal).request.seconds == 90


async def test_seeds_are_injected_and_recorded(catalog: CatalogWriter) -> None:
    seeds = iter(range(100, 200))
    s = scheduler(catalog, ToneGenerator(max_batch=3), {})
    s.seeds = lambda: next(seeds)
    await s.fill()
    await s.settle()
    rows = s.catalog.run_sync(lambda c: c.tracks())
    assert sorted(r.seed for r in rows) == [100, 101, 102]


async def test_generation_waits_while_two_batches_await_preparation(
    catalog: CatalogWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unprepared audio is held in memory: a generator faster than preparation must not
    # pile up batch after batch (the synth makes audio twice as fast as it is prepared).
    release = threading.Event()

    def slow_prepare(*args: Any) -> Any:
        release.wait(30)
        return real_prepare(*args)

    real_prepare = scheduler_module.prepare_or_skip
    monkeypatch.setattr(scheduler_module, "prepare_or_skip", slow_prepare)
    generator = ToneGenerator(max_batch=1)
    s = scheduler(catalog, generator, {})

    async def generated(count: int) -> bool:
        await s.fill()
        return len(generator.calls) >= count

    try:
        await wait_until(lambda: generated(2), 30, "a second batch while the first prepares")
        for _ in range(20):  # many ticks, and no third batch while both wait
            await s.fill()
            await asyncio.sleep(0.01)
        assert len(generator.calls) == 2
    finally:
        release.set()
    await wait_until(lambda: generated(3), 30, "generation resuming once one is prepared")
    await s.settle()
    await s.stop()


async def test_stopping_waits_for_the_track_being_prepared_off_the_loop(
    catalog: CatalogWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every station plays on while the scheduler stops: waiting on the loop for the
    # preparation in flight made all fifteen stations 1.3 s late at the end of a soak.
    release, preparing = threading.Event(), threading.Event()

    def slow_prepare(*args: Any) -> Any:
        preparing.set()
        release.wait(30)
        return real_prepare(*args)

    real_prepare = scheduler_module.prepare_or_skip
    monkeypatch.setattr(scheduler_module, "prepare_or_skip", slow_prepare)
    s = scheduler(catalog, ToneGenerator(max_batch=1), {})
    s.start()  # its own preparation thread, as the radio runs it
    await wait_until(preparing.is_set, 30, "a track being prepared")
    unblock = threading.Timer(10, release.set)  # a loop held by stop() is freed by this
    unblock.start()
    try:
        stopping = asyncio.create_task(s.stop())
        await asyncio.sleep(0.05)  # stop() reaches the preparation pool
        loop_was_free = not release.is_set()  # runs only once the loop is free again
        release.set()
        await stopping
    finally:
        unblock.cancel()
        release.set()
    assert loop_was_free


async def test_a_job_the_stop_cuts_off_logs_no_error(
    catalog: CatalogWriter, caplog: pytest.LogCaptureFixture
) -> None:
    # APScheduler cancels a coroutine job still running at shutdown and logs that as an
    # error with a traceback; a normal stop of the server did so now and then.
    started = asyncio.Event()

    async def busy() -> None:
        started.set()
        await asyncio.Event().wait()  # until the stop cancels it

    s = scheduler(catalog, ToneGenerator(max_batch=1), {})
    s.start()
    s.jobs.add_job(busy, id="busy")  # once, now
    await asyncio.wait_for(started.wait(), 30)
    with caplog.at_level(logging.INFO):
        await s.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_exit_waits_a_little_for_generation_the_radio_abandoned() -> None:
    # An interpreter finalising under a thread inside native code can abort the process.
    release = threading.Event()
    abandoned = in_daemon_thread(lambda: release.wait(30))
    assert not finish_generation(0.05)  # a hung model holds the exit no longer than this
    release.set()
    assert finish_generation(10)
    assert await abandoned is True


async def test_titles_never_repeat_within_a_station(catalog: CatalogWriter) -> None:
    """Thirty-six tracks whose drawn titles collide (two moods, no key: 64 titles at most
    per station); the catalog keeps each station's titles unique (#9)."""
    seeds = iter(range(1000, 2000))
    s = scheduler(catalog, ToneGenerator(max_batch=3), {})
    s.seeds = lambda: next(seeds)
    for _ in range(12):
        await s.fill()
        await s.settle()
    rows = s.catalog.run_sync(lambda c: c.tracks(limit=100))
    assert len(rows) == 36
    lineup = {station.id: station for station in parse_stations(THREE).stations}
    for station in ("jazz", "metal", "folk"):
        titles = [r.title for r in rows if r.station == station]
        assert len(titles) == len(set(titles)) == 12
        drawn = [
            concrete_prompt(lineup[station], r.seed).title for r in rows if r.station == station
        ]
        assert len(set(drawn)) < len(drawn) or station != "folk"  # folk's draws did collide


async def test_requests_carry_the_plans_the_station_already_has(catalog: CatalogWriter) -> None:
    row = NewTrack(
        station="jazz", title="Old", prompt="p", seed=1, generator="synth", model="synth-v1",
        parameters={"fingerprint": "C major|120|piano|I IV|I V"}, duration=3.0,
        sample_rate=44100, loudness=-14.0, audio_hash="old", path="jazz/old.flac",
    )  # fmt: skip
    catalog.run_sync(lambda c: c.add_track(row))
    generator = ToneGenerator(max_batch=3)
    s = scheduler(catalog, generator, {})
    await s.fill()
    await s.settle()
    used = {r.station: r.used_plans for r in generator.calls[0]}
    assert used["jazz"] == {"C major|120|piano|I IV|I V"} and used["folk"] == frozenset()


def test_generation_cpu_counts_the_threads_cpu_not_its_wall_time() -> None:
    # Delivery figures subtract this counter: a generator waiting on a GPU or a Ray
    # worker must not count the wait, only what it did on this process's CPU.
    result, cpu = thread_cpu(lambda: time.sleep(0.3) or "slept")
    assert result == "slept" and 0.0 <= cpu < 0.05
    _, spun = thread_cpu(lambda: sum(i * i for i in range(300_000)))
    assert spun > 0.0
