"""The radio's core without HTTP: one lifecycle in order, and happenings told, not polled."""

from __future__ import annotations

from pathlib import Path

import pytest

from radio.core import Happening, LineupChanged, ListenersChanged, Radio, TrackStarted
from radio.errors import CatalogError
from radio.lineup.stations import parse_stations
from radio.settings import Settings
from tests.dummies import DummyConnection, ToneGenerator
from tests.support import short_lineup, wait_until


def radio(tmp_path: Path, seeds: list[int] | None = None) -> Radio:
    settings = Settings.load({"cache": tmp_path / "cache"}, environ={})
    feed = iter(seeds or range(1, 10_000))
    return Radio(
        settings, parse_stations(short_lineup()), ToneGenerator(), "test", lambda: next(feed)
    )


def test_building_a_radio_opens_nothing(tmp_path: Path) -> None:
    built = radio(tmp_path)
    assert not (tmp_path / "cache").exists()
    assert built.on_air == {} and not built.scheduler.jobs.running
    with pytest.raises(CatalogError, match="not open"):
        built.catalog.run_sync(lambda c: c.count())


async def test_running_starts_every_stage_and_stops_them_in_reverse(tmp_path: Path) -> None:
    built = radio(tmp_path, seeds=list(range(500, 600)))
    async with built.running():
        assert (tmp_path / "cache" / "catalog.db").is_file()
        assert set(built.on_air) == {"jazz", "metal"} and built.scheduler.jobs.running
        await wait_until(lambda: all(a.playout.now for a in built.on_air.values()))
        seeds = {r.seed for r in await built.catalog.run(lambda c: c.tracks())}
        assert seeds <= set(range(500, 600))  # the injected seeds made every track
        broadcasts = [a.broadcast for a in built.on_air.values()]
    assert built.on_air == {} and all(b.closed for b in broadcasts)
    assert not built.scheduler.jobs.running
    with pytest.raises(CatalogError, match="not open"):
        built.catalog.run_sync(lambda c: c.count())


async def test_playout_and_broadcasts_tell_what_happens(tmp_path: Path) -> None:
    built = radio(tmp_path)
    heard: list[Happening] = []
    built.subscribe(heard.append)
    async with built.running():
        await wait_until(lambda: {TrackStarted("jazz"), TrackStarted("metal")} <= set(heard))
        jazz = built.station("jazz")
        assert jazz.playout.now is not None  # told after the track was on air
        listener = jazz.broadcast.join(DummyConnection())
        jazz.broadcast.leave(listener)
        assert heard.count(ListenersChanged("jazz")) == 2
        lineup = parse_stations(short_lineup().split('[[stations]]\nid = "metal"')[0])
        await built.apply_lineup(lineup)
        assert heard[-1] == LineupChanged(("jazz",))
