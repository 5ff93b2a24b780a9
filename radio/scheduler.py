"""Station backlogs in, batched generation requests out; the station closest to dry goes first.

APScheduler ticks `fill` on the event loop; generation runs on one worker thread
(the GPU is one device) and preparation on another, so while batch N is being
normalised and written, batch N+1 is already generating. Neither touches the loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.errors import RadioError
from radio.generators.base import GeneratedAudio, GenerationRequest, Generator, request_for
from radio.lineup.prompts import ConcretePrompt, concrete_prompt
from radio.lineup.stations import Daypart, Station
from radio.prepare import prepare_track
from radio.tracks import Track

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# A station with nothing to play gets a short first track, so a fresh install has
# every station on air within seconds rather than after fifteen full-length tracks.
FIRST_TRACK_SECONDS = 20.0


@dataclass
class StationStats:
    generated: int = 0
    failed: int = 0
    seconds_generated: float = 0.0
    seconds_busy: float = 0.0  # wall time spent generating this station's audio


@dataclass
class Pending:
    request: GenerationRequest
    prompt: ConcretePrompt


@dataclass
class Scheduler:
    """Keeps every enabled station's backlog at or above its target, in seconds of audio."""

    stations: Callable[[], Iterable[Station]]
    generator: Generator
    backlog: Backlog
    catalog: CatalogWriter
    cache_dir: Path
    seconds_ahead: Callable[[str], float]
    dayparts: dict[str, Daypart] = field(default_factory=dict)
    stats: dict[str, StationStats] = field(default_factory=dict)
    _pending_seconds: dict[str, float] = field(default_factory=dict)
    _busy: bool = False
    _aps: AsyncIOScheduler | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._generate_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> AsyncIOScheduler:
        self._aps = AsyncIOScheduler()
        self._aps.add_job(
            self.fill, "interval", seconds=TICK_SECONDS, id="fill", max_instances=1, coalesce=True
        )
        self._aps.start()
        return self._aps

    async def stop(self) -> None:
        if self._aps and self._aps.running:
            self._aps.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._generate_pool.shutdown(wait=True, cancel_futures=True)
        self._prepare_pool.shutdown(wait=True, cancel_futures=True)

    # -- deciding -------------------------------------------------------------
    def ahead(self, station: str) -> float:
        """Seconds of audio ahead of playout, counting what is being generated now."""
        return self.seconds_ahead(station) + self._pending_seconds.get(station, 0.0)

    def plan(self) -> list[Station]:
        """Stations under target, the one that will run dry soonest first, one batch's worth."""
        short = [s for s in self.stations() if s.enabled and self.ahead(s.id) < s.backlog_seconds]
        short.sort(key=lambda s: self.ahead(s.id))
        return short[: self.generator.max_batch]

    def request_for(self, station: Station) -> Pending:
        seed = secrets.randbits(31)
        seconds = station.track_seconds
        if self.ahead(station.id) == 0.0:
            seconds = min(seconds, FIRST_TRACK_SECONDS)
        prompt = concrete_prompt(station, seed, self.dayparts.get(station.id))
        return Pending(request_for(station, prompt, seed, seconds), prompt)

    # -- doing ----------------------------------------------------------------
    async def fill(self) -> None:
        """One tick: if the generator is idle, hand it the next batch and return.

        The tick itself stays short; the batch runs as a task of its own, so the
        interval job never overlaps itself however long generation takes."""
        if self._busy:
            return
        batch = [self.request_for(s) for s in self.plan()]
        if not batch:
            return
        self._busy = True
        for item in batch:
            self._add_pending(item.request.station, item.request.seconds)
        self._spawn(self._run(batch))

    async def settle(self) -> None:
        """Wait until every batch in flight has been generated and prepared."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, batch: list[Pending]) -> None:
        try:
            results = await self._generate(batch)
        finally:
            self._busy = False
        # Preparing this batch overlaps generating the next one.
        self._spawn(self._prepare_all(batch, results))

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _generate(self, batch: list[Pending]) -> list[GeneratedAudio] | None:
        loop = asyncio.get_running_loop()
        requests = [item.request for item in batch]
        started = loop.time()
        try:
            results = await loop.run_in_executor(
                self._generate_pool, self.generator.generate, requests
            )
        except Exception as exc:  # any model failure: log it, the stations play on
            ids = ", ".join(f"{r.station} (seed {r.seed})" for r in requests)
            log.error("generation failed for %s: %s", ids, exc)
            for r in requests:
                self._stats(r.station).failed += 1
            return None
        elapsed = loop.time() - started
        for r in requests:
            self._stats(r.station).seconds_busy += elapsed / len(requests)
        return results

    async def _prepare_all(
        self, batch: list[Pending], results: list[GeneratedAudio] | None
    ) -> None:
        for index, item in enumerate(batch):
            if results is not None and index < len(results):
                await self._prepare_one(item, results[index])
            self._add_pending(item.request.station, -item.request.seconds)

    async def _prepare_one(self, item: Pending, generated: GeneratedAudio) -> Track | None:
        loop = asyncio.get_running_loop()
        station = item.request.station
        try:
            row = await loop.run_in_executor(
                self._prepare_pool,
                prepare_track,
                generated,
                self.cache_dir,
                item.prompt.title,
                self.generator.name,
                self.generator.model,
            )
            track_id = await self.catalog.run(lambda c: c.add_track(row))
        except RadioError as exc:
            log.warning("%s: track (seed %d) not used: %s", station, item.request.seed, exc)
            self._stats(station).failed += 1
            return None
        except Exception:  # a bug in preparation must not stop the other stations
            log.exception("%s: preparing track (seed %d) failed", station, item.request.seed)
            self._stats(station).failed += 1
            return None
        track = Track(track_id, station, row.title, self.cache_dir / row.path, row.duration)
        self.backlog.push(track)
        stats = self._stats(station)
        stats.generated += 1
        stats.seconds_generated += row.duration
        log.info(
            "%s: prepared %r (%.1f s, %.1f LUFS)", station, row.title, row.duration, row.loudness
        )
        return track

    def _add_pending(self, station: str, seconds: float) -> None:
        self._pending_seconds[station] = self._pending_seconds.get(station, 0.0) + seconds

    def _stats(self, station: str) -> StationStats:
        return self.stats.setdefault(station, StationStats())
