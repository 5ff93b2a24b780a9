"""Settings, a lineup and a generator in, the radio on air out: its lifecycle and operations.

One async lifecycle, `Radio.running()`: open the catalog -> restore the backlog
-> put each station on air (its broadcast and playout) -> start the scheduler;
on the way out the reverse, with every listener's stream closed first. Nothing
opens at construction, so building a Radio is free and cannot fail halfway.

Whoever shows the radio (the event stream, for one) subscribes to its
happenings: playout tells when a track starts, a broadcast when its listeners
change, the radio when the lineup or a daypart changes. Nobody polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from radio import retention
from radio.backlog import Backlog
from radio.broadcast import Broadcast
from radio.catalog import CatalogWriter
from radio.errors import NotFound
from radio.generators import Generator
from radio.generators.pool import Pooled, WorkerView
from radio.hls import HlsStream
from radio.lineup.dayparts import daypart_at
from radio.lineup.stations import Daypart, Station, StationsConfig
from radio.offload import PreparationProcess, worker_of
from radio.outputs.icecast import IcecastOutput, Target
from radio.playout import CHUNK_SECONDS, Pacing, Playout
from radio.prepare import cache_audio
from radio.retention import SpaceGuard
from radio.scheduler import Scheduler, in_daemon_thread, random_seed
from radio.settings import Settings
from radio.ticks import Ticks

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0
RETENTION_SECONDS = 60.0
CLOSE_SECONDS = 3.0


@dataclass(frozen=True)
class TrackStarted:
    station: str


@dataclass(frozen=True)
class ListenersChanged:
    station: str


@dataclass(frozen=True)
class LineupChanged:
    stations: tuple[str, ...]


@dataclass(frozen=True)
class DaypartChanged:
    station: str
    daypart: str | None  # None: the station's own prompt again


Happening = TrackStarted | ListenersChanged | LineupChanged | DaypartChanged
Observer = Callable[[Happening], None]


@dataclass
class OnAir:
    """One station on air: its broadcasts (MP3, Ogg Opus), its HLS segments, its playout
    loop and its Icecast push."""

    station: Station
    broadcast: Broadcast
    opus: Broadcast
    hls: HlsStream
    playout: Playout
    task: asyncio.Task[None] | None = None
    icecast: IcecastOutput | None = None
    started: float = field(default_factory=time.time)

    @property
    def broadcasts(self) -> tuple[Broadcast, ...]:
        return (self.broadcast, self.opus)

    @property
    def connections(self) -> int:
        """Listeners connected to the station's mounts (what the connection caps count)."""
        return sum(len(b.listeners) for b in self.broadcasts)

    def listeners_by_format(self) -> dict[str, int]:
        """Listeners now, by how they listen: each mount's connections and the distinct
        HLS clients that fetched a segment lately (radio/hls.py)."""
        return {
            "mp3": len(self.broadcast.listeners),
            "opus": len(self.opus.listeners),
            "hls": self.hls.listeners.count(time.monotonic()),
        }

    @property
    def listeners(self) -> int:
        """Listeners of every kind."""
        return sum(self.listeners_by_format().values())


class Radio:
    def __init__(
        self,
        settings: Settings,
        lineup: StationsConfig,
        generator: Generator,
        generator_reason: str,
        seeds: Callable[[], int] = random_seed,
    ) -> None:
        self.settings = settings
        self.lineup = lineup
        self.generator = generator
        self.generator_reason = generator_reason
        self.cache_dir = Path(settings.cache)
        self.catalog = CatalogWriter(self.cache_dir / "catalog.db")
        self.backlog = Backlog(self.catalog, self.cache_dir)
        self.space = SpaceGuard(self.cache_dir, settings.min_free_bytes)
        self.preparation = PreparationProcess() if settings.worker_processes else None
        self.on_air: dict[str, OnAir] = {}
        self.ticks = Ticks(CHUNK_SECONDS)  # one beat and one render job for every station
        self.scheduler = Scheduler(
            stations=lambda: self.lineup.stations,
            generator=generator,
            backlog=self.backlog,
            catalog=self.catalog,
            cache_dir=self.cache_dir,
            seconds_ahead=self.seconds_ahead,
            seeds=seeds,
            room=self.space.room,
            stages=self.preparation or cache_audio,
        )
        self.started = time.time()
        self._observers: list[Observer] = []
        self._dayparts: dict[str, str | None] = {}

    # -- lifecycle ----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Radio]:
        """On air for the duration of the block; every stage stopped in reverse after it."""
        async with contextlib.AsyncExitStack() as stack:
            await asyncio.to_thread(self.catalog.open)
            stack.push_async_callback(self._close_generator)
            stack.push_async_callback(asyncio.to_thread, self.catalog.close)
            await self.catalog.run(partial(retention.sweep, cache_dir=self.cache_dir))
            restored = self.backlog.restore(await self.catalog.run(lambda c: c.unplayed()))
            log.info("generator: %s (%s)", self.generator.name, self.generator_reason)
            log.info("backlog: %d unplayed tracks restored", restored)
            stack.push_async_callback(self._take_all_off_air)
            for station in self.lineup.enabled:
                self.put_on_air(station)
            if self.preparation is not None:  # after the scheduler's stop, which waits on it
                stack.callback(self.preparation.close)
            stack.push_async_callback(self.scheduler.stop)
            self.scheduler.start()
            self.scheduler.every_minute(self.check_dayparts, "dayparts")
            self.scheduler.every(RETENTION_SECONDS, self.bound_cache, "retention")
            self.check_dayparts()
            self.started = time.time()
            yield self

    def close_streams(self) -> None:
        """First step of shutdown: end every listener's stream."""
        for on_air in self.on_air.values():
            for broadcast in on_air.broadcasts:
                broadcast.close()

    async def _take_all_off_air(self) -> None:
        for station_id in list(self.on_air):
            await self.take_off_air(station_id)

    async def _close_generator(self) -> None:
        # Bounded, like the batch in flight: a hung model must not hold the stop (SIGTERM
        # is to finish within 10 s); its daemon thread ends with the process.
        try:
            await asyncio.wait_for(in_daemon_thread(self.generator.close), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("stopping: the generator did not close in %.0f s; abandoned", CLOSE_SECONDS)

    async def bound_cache(self) -> int:
        """The retention job: prune the cache back under its limit; returns the bytes freed."""
        keep = tuple(
            track.id for on_air in self.on_air.values() for track in on_air.playout.holding
        )
        limit = self.settings.cache_max_bytes
        # Measured off the catalog's thread: walking a large cache there every minute
        # would hold up play rows and console edits only to find nothing to do.
        if await asyncio.to_thread(retention.cache_bytes, self.cache_dir) <= limit:
            return 0
        return await self.catalog.run(
            partial(retention.prune, cache_dir=self.cache_dir, limit_bytes=limit, keep=keep)
        )

    # -- happenings -----------------------------------------------------------------
    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        self._observers.remove(observer)

    def tell(self, happening: Happening) -> None:
        for observer in list(self._observers):
            observer(happening)

    # -- queries --------------------------------------------------------------------
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

    def worker_pids(self) -> dict[str, int]:
        """The worker processes running now, by what they do ("generator", "preparation")."""
        found = {}
        for what, owner in (("generator", self.generator), ("preparation", self.preparation)):
            worker = worker_of(owner)
            if worker is not None and worker.pid is not None:
                found[what] = worker.pid
        return found

    def pool(self) -> tuple[str, list[WorkerView]]:
        """Where generation runs ("local" or "ray") and each worker's state and counts."""
        if isinstance(self.generator, Pooled):
            return self.generator.workers_kind, self.generator.workers()
        parameters = getattr(self.generator, "parameters", {})
        local = WorkerView(
            name="local",
            node="head",
            device=str(parameters.get("device", "cpu")),
            model=self.generator.model,
            state="busy" if self.scheduler.free() == 0 else "idle",
            batches=self.scheduler.batches_made,
            failures=self.scheduler.batches_failed,
        )
        return "local", [local]

    def daypart(self, station_id: str) -> Daypart | None:
        station = self.lineup.get(station_id)
        return daypart_at(station) if station else None

    # -- operations -----------------------------------------------------------------
    def put_on_air(self, station: Station) -> OnAir:
        station_id = station.id

        def mount() -> Broadcast:
            return Broadcast(
                self.settings.burst_bytes,
                self.settings.queue_limit_bytes,
                on_listeners=lambda: self.tell(ListenersChanged(station_id)),
            )

        broadcast, opus, hls = mount(), mount(), HlsStream()
        playout = self._playout(station, broadcast, opus, hls)
        on_air = OnAir(station, broadcast, opus, hls, playout)
        self.on_air[station_id] = on_air
        self._run_playout(on_air)
        if self.lineup.icecast.enabled:
            on_air.icecast = IcecastOutput(station, broadcast, self._icecast_target(station))
            on_air.icecast.start()
        return on_air

    def _icecast_target(self, station: Station) -> Target:
        config = self.lineup.icecast
        base = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return Target(
            host=config.host,
            port=config.port,
            mount=config.mount_for(station.id),
            password=os.environ.get(config.password_env) or None,
            password_env=config.password_env,
            public=config.public,
            url=f"{base.rstrip('/')}/",
        )

    async def take_off_air(self, station_id: str) -> None:
        on_air = self.on_air.pop(station_id, None)
        if on_air is None:
            return
        for broadcast in on_air.broadcasts:
            broadcast.close()
        if on_air.icecast:
            await on_air.icecast.stop()
        if on_air.task:
            on_air.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await on_air.task
        await on_air.hls.close()

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
        self.tell(LineupChanged(tuple(self.on_air)))
        self.check_dayparts()

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

    def check_dayparts(self) -> None:
        """The radio's clock runs this every minute: say when a daypart begins or ends."""
        for station in self.lineup.enabled:
            part = daypart_at(station)
            name = part.name if part else None
            if self._dayparts.get(station.id) != name:
                if station.id in self._dayparts or name is not None:
                    log.info("%s: %s", station.id, f"daypart {name!r}" if name else "own prompt")
                    self.tell(DaypartChanged(station.id, name))
                self._dayparts[station.id] = name

    # -- playout --------------------------------------------------------------------
    def _playout(
        self,
        station: Station,
        broadcast: Broadcast,
        opus: Broadcast,
        hls: HlsStream,
        pacing: Pacing | None = None,
    ) -> Playout:
        station_id = station.id
        return Playout(
            station,
            self.backlog,
            self.catalog,
            broadcast,
            on_start=lambda: self.tell(TrackStarted(station_id)),
            pacing=pacing,
            opus_broadcast=opus,
            hls=hls,
            ticks=self.ticks,
        )

    def _run_playout(self, on_air: OnAir, delay: float = 0.0) -> None:
        task = asyncio.create_task(
            self._play(on_air.playout, delay), name=f"playout-{on_air.station.id}"
        )
        task.add_done_callback(lambda t: self._playout_ended(on_air, t))
        on_air.task = task

    @staticmethod
    async def _play(playout: Playout, delay: float) -> None:
        await asyncio.sleep(delay)
        await playout.run()

    def _playout_ended(self, on_air: OnAir, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Never dead air: a crashed loop is logged and restarted on the same
        # broadcast, so connected listeners stay connected, and on the same pacing,
        # so they are not sent a second lead. The pause keeps a loop that crashes at
        # once from flooding the log; the pacing catches up on the missed second.
        log.error("%s: playout crashed; restarting", on_air.station.id, exc_info=task.exception())
        if self.on_air.get(on_air.station.id) is on_air:
            pacing = on_air.playout.pacing
            on_air.playout = self._playout(
                on_air.station, on_air.broadcast, on_air.opus, on_air.hls, pacing
            )
            self._run_playout(on_air, RESTART_DELAY_SECONDS)
