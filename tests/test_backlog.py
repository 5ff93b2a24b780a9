"""The backlog: fresh tracks in order, seconds ahead, restore after a restart, replays when dry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.generators import GenerationRequest
from radio.prepare import Maker, prepare
from radio.tracks import Track
from tests.dummies import ToneGenerator


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogWriter]:
    with CatalogWriter(tmp_path / "catalog.db") as writer:
        yield writer


def made(catalog: CatalogWriter, cache: Path, seed: int, station: str = "jazz") -> Track:
    """A real prepared track: FLAC in the cache, a row in the catalog."""
    request = GenerationRequest(station, "Jazz", f"prompt {seed}", seed, 2.0)
    generated = ToneGenerator().generate([request])[0]
    return prepare(generated, f"Tune {seed}", Maker("tone", "t"), cache, catalog)


async def test_fresh_tracks_come_out_in_order_and_are_counted_in_seconds(
    catalog: CatalogWriter, tmp_path: Path
) -> None:
    backlog = Backlog(catalog, tmp_path)
    a, b = made(catalog, tmp_path, 1), made(catalog, tmp_path, 2)
    other = made(catalog, tmp_path, 3, station="metal")
    for track in (a, b, other):
        backlog.push(track)
    assert backlog.seconds_queued("jazz") == pytest.approx(a.duration + b.duration)
    assert backlog.peek("jazz") == a
    assert await backlog.next_track("jazz") == a
    assert await backlog.next_track("jazz") == b
    assert backlog.queued("metal") == [other]
    assert backlog.replays == {}


async def test_restore_queues_unplayed_tracks_whose_files_exist(
    catalog: CatalogWriter, tmp_path: Path
) -> None:
    a, b, c = (made(catalog, tmp_path, n) for n in (1, 2, 3))
    catalog.run_sync(lambda cat: cat.start_play(a.id, "jazz", 0))  # played: not backlog
    c.path.unlink()  # its audio is gone: nothing to play
    backlog = Backlog(catalog, tmp_path)
    assert backlog.restore(catalog.run_sync(lambda cat: cat.unplayed())) == 1
    assert backlog.queued("jazz") == [b]


async def test_a_dry_station_replays_its_least_recently_played_track(
    catalog: CatalogWriter, tmp_path: Path
) -> None:
    backlog = Backlog(catalog, tmp_path)
    assert await backlog.next_track("jazz") is None  # never had a track: nothing to replay
    a, b = made(catalog, tmp_path, 1), made(catalog, tmp_path, 2)
    for track in (a, b):
        catalog.run_sync(lambda cat, t=track: cat.start_play(t.id, "jazz", 0))  # type: ignore[misc]
    replay = await backlog.next_track("jazz", playing=(b.id,))
    assert replay == replace(a, replay=True)  # marked: a replay is not backlog
    # With a single track, repeating it beats silence.
    again = await backlog.next_track("jazz", playing=(a.id, b.id))
    assert again is not None and again.replay and again.id in (a.id, b.id)
    assert backlog.replays == {"jazz": 2}


async def test_drop_gives_back_the_unplayed_tracks(catalog: CatalogWriter, tmp_path: Path) -> None:
    backlog = Backlog(catalog, tmp_path)
    a, b = made(catalog, tmp_path, 1), made(catalog, tmp_path, 2)
    backlog.push(a)
    backlog.push(b)
    assert backlog.drop("jazz") == [a, b]
    assert backlog.seconds_queued("jazz") == 0.0 and backlog.peek("jazz") is None
