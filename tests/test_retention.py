"""Retention: the start-up sweep, pruning the cache to its limit, the free-space floor."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from radio import retention
from radio.catalog import CatalogWriter
from radio.generators import GenerationRequest
from radio.prepare import Maker, prepare
from radio.retention import SpaceGuard
from radio.tracks import Track, TrackRecord
from tests.dummies import ToneGenerator
from tests.support import StartServer, on_air, read_stream, wait_until


def make(catalog: CatalogWriter, cache: Path, seed: int, station: str = "jazz") -> Track:
    request = GenerationRequest(station, "Jazz", "warm jazz", seed, 2.0)
    generated = ToneGenerator().generate([request])[0]
    return prepare(generated, f"tone {seed}", Maker("tone", "tone-v1"), cache, catalog)


def test_the_start_up_sweep_clears_what_a_crash_left(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with CatalogWriter(cache / "catalog.db") as catalog:
        kept = make(catalog, cache, 1)
        catalog.run_sync(lambda c: c.start_play(kept.id, "jazz", 3))  # never ended: a crash
        partial = cache / "jazz" / ".abc.flac.tmp"
        partial.write_bytes(b"half a file")
        copied = cache / "jazz" / "copied.flac.tmp"  # not ours, but as partial
        copied.write_bytes(b"half a copy")
        orphan = cache / "jazz" / "0123456789abcdef0123.flac"  # written, the row never was
        orphan.write_bytes(b"audio")
        swept = catalog.run_sync(lambda c: retention.sweep(c, cache))
        plays = catalog.run_sync(lambda c: c.recent_plays("jazz"))
    assert swept == retention.Swept(partial_files=2, orphans=1, open_plays=1)
    assert not partial.exists() and not copied.exists()
    assert not orphan.exists() and kept.path.is_file()
    assert plays[0].ended_at is not None and plays[0].ended_at >= plays[0].started_at


def test_pruning_takes_the_least_played_oldest_audio_and_keeps_the_rows(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with CatalogWriter(cache / "catalog.db") as catalog:
        old, twice, held, newer, unplayed = (make(catalog, cache, seed) for seed in range(5))
        for track in (old, twice, twice, held, newer):
            catalog.run_sync(lambda c, t=track: c.start_play(t.id, "jazz", 0))
        size = old.path.stat().st_size
        total = retention.cache_bytes(cache)
        # Room for all but about two tracks: `old` and `newer` (one play each, oldest
        # first) go; `held` is on air and `unplayed` is in a backlog, so they never do.
        freed = catalog.run_sync(
            lambda c: retention.prune(c, cache, total - size - size // 2, keep=(held.id,))
        )
        records = {r.id: r for r in catalog.run_sync(lambda c: c.tracks())}
        replays = catalog.run_sync(lambda c: c.least_recently_played("jazz"))
    assert freed >= size + size // 2
    gone = {i for i, r in records.items() if r.pruned_at is not None}
    assert gone == {old.id, newer.id}
    assert not old.path.exists() and not newer.path.exists()
    assert all(t.path.is_file() for t in (twice, held, unplayed))
    assert len(records) == 5  # the rows stay
    assert {r.id for r in replays} == {twice.id, held.id, unplayed.id}


async def test_a_pruned_tracks_audio_is_gone_with_a_410(start_server: StartServer) -> None:
    client, radio = await start_server(cache_max_bytes=0)
    await on_air(radio)

    async def pruned() -> list[TrackRecord]:
        await radio.bound_cache()
        return [r for r in await radio.catalog.run(lambda c: c.tracks()) if r.pruned_at]

    # Prunable once a track has played and playout has let it go.
    gone = await wait_until(pruned, 20, "a played track pruned")
    held = {t.id for a in radio.on_air.values() for t in a.playout.holding}
    queued = {t.id for station in radio.on_air for t in radio.backlog.queued(station)}
    assert not (held | queued) & {r.id for r in gone}
    assert all(r.plays > 0 for r in gone)
    response = await client.get(f"/api/tracks/{gone[0].id}/audio")
    assert response.status == 410
    assert "pruned" in (await response.json())["error"]
    assert (await client.get(f"/api/tracks/{gone[0].id}")).status == 200


def test_the_space_guard_pauses_once_and_resumes_by_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guard = SpaceGuard(tmp_path, floor_bytes=2**62)  # more than any disk: no room
    with caplog.at_level(logging.WARNING, logger="radio.retention"):
        assert [guard.room() for _ in range(3)] == [False] * 3
        guard.floor_bytes = 0
        assert guard.room()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"generation paused: {tmp_path.resolve()} has ")
    assert messages[1].startswith("generation resumed")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs of its own, so a test can fill a disk for real (root only)."""
    mount = tmp_path.resolve() / "disk"  # as the log names it
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses more; returns it."""
    ballast = disk / "ballast"
    block = b"\0" * 65536
    # Unbuffered: a buffered file keeps the block the disk refused and tries it again
    # on close, outside the suppress, which then fails the test instead of filling.
    with ballast.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(block)
    return ballast


def partial_files(disk: Path) -> list[Path]:
    return list(disk.glob("*/.*.tmp"))


@pytest.mark.slow
async def test_a_full_disk_pauses_generation_and_the_stations_play_on(
    start_server: StartServer, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    floor, where = 4 * 10**6, str(small_disk)
    client, radio = await start_server(cache=small_disk, min_free_bytes=floor)
    await on_air(radio)
    tasks = {station: a.task for station, a in radio.on_air.items()}
    with caplog.at_level(logging.INFO):
        ballast = fill(small_disk)
        made = sum(s.generated for s in radio.scheduler.stats.values())
        await wait_until(lambda: radio.space.paused, 5, "generation paused")
        seconds = 6.0
        data = await read_stream(str(client.make_url("/stream/jazz.mp3")), seconds)
        # Stations play on: the same loops (no crash loop), at real time (no burst).
        assert {s: a.task for s, a in radio.on_air.items()} == tasks
        assert len(data) < radio.settings.burst_bytes + seconds * 128_000 / 8 * 1.1
        assert len(data) > seconds * 128_000 / 8 * 0.8
        assert sum(s.generated for s in radio.scheduler.stats.values()) <= made + 4
        assert not partial_files(small_disk)  # no partial files
        os.unlink(ballast)
        await wait_until(lambda: not radio.space.paused, 5, "generation resumed")
        await wait_until(
            lambda: sum(s.generated for s in radio.scheduler.stats.values()) > made + 4,
            20,
            "new tracks once there is room",
        )
    paused = [r for r in caplog.records if "generation paused" in r.getMessage()]
    assert len(paused) == 1 and where in paused[0].getMessage()
    assert "free, under the 4.0 MB floor" in paused[0].getMessage()
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not tracebacks
    # Generation is under way again: let what is in flight finish (a track being written
    # has its temporary file for those milliseconds), then nothing partial may be left.
    radio.scheduler.jobs.pause()
    await radio.scheduler.settle()
    assert not partial_files(small_disk)
