"""Prepared tracks in, the next track for each station out; replays when a station runs dry.

The backlog is measured in seconds, not tracks. It lives in memory and is rebuilt
from the catalog (unplayed, undiscarded tracks) on start, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from radio.catalog import CatalogWriter
from radio.tracks import Track, TrackRecord

log = logging.getLogger(__name__)


class Backlog:
    def __init__(self, catalog: CatalogWriter, cache_dir: Path) -> None:
        self.catalog = catalog
        self.cache_dir = cache_dir
        self._queues: dict[str, deque[Track]] = {}
        self.replays: dict[str, int] = {}

    def restore(self, records: Iterable[TrackRecord]) -> int:
        """Queue the catalog's unplayed tracks whose files still exist; returns how many."""
        restored = 0
        for record in records:
            track = record.track(self.cache_dir)
            if track.path.is_file():
                self.push(track)
                restored += 1
        return restored

    def push(self, track: Track) -> None:
        self._queues.setdefault(track.station, deque()).append(track)

    def queued(self, station: str) -> list[Track]:
        return list(self._queues.get(station, ()))

    def seconds_queued(self, station: str) -> float:
        return sum(t.duration for t in self._queues.get(station, ()))

    def peek(self, station: str) -> Track | None:
        queue = self._queues.get(station)
        return queue[0] if queue else None

    def drop(self, station: str) -> list[Track]:
        """Remove the station's unplayed tracks (the operator's "apply now")."""
        return list(self._queues.pop(station, ()))

    async def next_track(self, station: str, playing: tuple[int, ...] = ()) -> Track | None:
        """The next fresh track, else a replay of the least recently played one, else None."""
        queue = self._queues.get(station)
        if queue:
            return queue.popleft()
        # Prefer a track other than the one on air; with a single track, repeat it.
        rows = await self.catalog.run(lambda c: c.least_recently_played(station, exclude=playing))
        if not rows and playing:
            rows = await self.catalog.run(lambda c: c.least_recently_played(station))
        for record in rows:
            track = record.track(self.cache_dir)
            if track.path.is_file():
                self.replays[station] = self.replays.get(station, 0) + 1
                log.info("%s: backlog empty, replaying track %d", station, track.id)
                return replace(track, replay=True)
        return None
