from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.lineup.stations import parse_stations
from radio.scheduler import FIRST_TRACK_SECONDS, Scheduler
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
