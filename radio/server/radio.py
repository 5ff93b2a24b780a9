"""Settings, stations and a generator in, the running radio out: what every handler needs.

Lifecycle lives here in one place: start catalog -> generator -> backlog ->
playout per station -> scheduler; stop in reverse, closing listener streams first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from radio.backlog import Backlog
from radio.broadcast import Broadcast
from radio.catalog import CatalogWriter
from radio.errors import NotFound
from radio.generators.base import Generator
from radio.lineup.stations import Station, StationsConfig
from radio.playout import Playout
from radio.scheduler import Scheduler
from radio.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class OnAir:
    """One station on air: its broadcast ring and its playout loop."""

    station: Station
    broadcast: Broadcast
    playout: Playout
    task: asyncio.Task[None] | None = None
    started: float = field(default_factory=time.time)


class Radio:
    def __init__(
        self,
        settings: Settings,
        lineup: StationsConfig,
        generator: Generator,
        generator_reason: str,
    ) -> None:
        self.settings = settings
        self.lineup = lineup
        self.generator = generator
        self.generator_reason = generator_reason
        self.cache_dir = Path(settings.cache)
        self.catalog = CatalogWriter(self.cache_dir / "catalog.db")
        self.backlog = Backlog(self.catalog, self.cache_dir)
        self.on_air: dict[str, OnAir] = {}
        self.scheduler = Scheduler(
            stations=lambda: self.lineup.stations,
            generator=generator,
            backlog=self.backlog,
            catalog=self.catalog,
            cache_dir=self.cache_dir,
            seconds_ahead=self.seconds_ahead,
        )
        self.started = time.time()

    # -- queries ----------------------------------------------------------------
    def station(self, station_id: str) -> OnAir:
        on_air = self.on_air.get(station_id)
        if on_air is None:
            raise NotFound(f"no station {station_id!r}")
        return on_air

    def seconds_ahead(self, station_id: str) -> float:
        """Prepared audio not yet played: the backlog plus what playout has taken but not played."""
        on_air = self.on_air.get(station_id)
        playing = on_air.playout.seconds_left if on_air else 0.0
        return self.backlog.seconds_queued(station_id) + playing

    # -- lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        restored = self.backlog.restore(await self.catalog.run(lambda c: c.unplayed()))
        log.info("generator: %s (%s)", self.generator.name, self.generator_reason)
        log.info("backlog: %d unplayed tracks restored", restored)
        for station in self.lineup.enabled:
            self.put_on_air(station)
        self.scheduler.start()

    def put_on_air(self, station: Station) -> OnAir:
        broadcast = Broadcast(self.settings.burst_bytes, self.settings.queue_limit_bytes)
        on_air = OnAir(station, broadcast, Playout(station, self.backlog, self.catalog, broadcast))
        self.on_air[station.id] = on_air
        self._run_playout(on_air)
        return on_air

    def _run_playout(self, on_air: OnAir) -> None:
        task = asyncio.create_task(on_air.playout.run(), name=f"playout-{on_air.station.id}")
        task.add_done_callback(lambda t: self._playout_ended(on_air, t))
        on_air.task = task

    async def take_off_air(self, station_id: str) -> None:
        on_air = self.on_air.pop(station_id, None)
        if on_air is None:
            return
        on_air.broadcast.close()
        if on_air.task:
            on_air.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await on_air.task

    async def apply_lineup(self, lineup: StationsConfig) -> None:
        """Switch to a new, already validated lineup without a restart.

        New or re-enabled stations go on air, removed or disabled ones go off,
        and edited ones take the edit from their next generated track on
        (artist name and crossfade at once).
        """
        self.lineup = lineup
        wanted = {s.id: s for s in lineup.enabled}
        for station_id in [sid for sid in self.on_air if sid not in wanted]:
            await self.take_off_air(station_id)
        for station in wanted.values():
            on_air = self.on_air.get(station.id)
            if on_air is None:
                self.put_on_air(station)
            elif on_air.station != station:
                on_air.station = station
                on_air.playout.retune(station)

    async def drop_backlog(self, station_id: str) -> int:
        """Discard the station's unplayed tracks so new settings are heard within one track."""
        dropped = self.backlog.drop(station_id)
        on_air = self.on_air.get(station_id)
        if on_air is not None:
            on_air.playout.unqueue()  # and the one queued for the next crossfade
        ids = [t.id for t in dropped]
        if ids:
            await self.catalog.run(lambda c: c.discard(ids))
        return len(ids)

    def close_streams(self) -> None:
        """First step of shutdown: end every listener's stream."""
        for on_air in self.on_air.values():
            on_air.broadcast.close()

    async def stop(self) -> None:
        await self.scheduler.stop()
        for station_id in list(self.on_air):
            await self.take_off_air(station_id)
        await asyncio.to_thread(self.generator.close)
        self.catalog.close()

    def _playout_ended(self, on_air: OnAir, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Never dead air: a crashed loop is logged and restarted on the same
        # broadcast, so connected listeners stay connected.
        log.error("%s: playout crashed; restarting", on_air.station.id, exc_info=task.exception())
        if self.on_air.get(on_air.station.id) is on_air:
            on_air.playout = Playout(on_air.station, self.backlog, self.catalog, on_air.broadcast)
            self._run_playout(on_air)
