"""Station backlogs in, batched generation requests out; the station closest to dry goes first.

The scheduler is the radio's one clock: an APScheduler that ticks the backlog
top-up twice a second and runs the core's other periodic jobs (daypart
boundaries). A tick only decides; generation runs on one worker thread (the GPU
is one device) and preparation on another, so while batch N is being normalised
and written, batch N+1 is already generating. Neither touches the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.generators import GeneratedAudio, GenerationRequest, Generator, request_for
from radio.lineup.dayparts import daypart_at
from radio.lineup.prompts import ConcretePrompt, concrete_prompt
from radio.lineup.stations import Station
from radio.prepare import Maker, prepare_or_skip

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# A station with nothing to play gets a short first track, so a fresh install has
# every station on air within seconds rather than after fifteen full-length tracks.
FIRST_TRACK_SECONDS = 20.0


def random_seed() -> int:
    return secrets.randbits(31)


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


def pending(station: Station, seed: int, seconds: float, moment: datetime | None = None) -> Pending:
    """What a generator is asked for one track: the prompt set in force at `moment`."""
    prompt = concrete_prompt(station, seed, daypart_at(station, moment))
    return Pending(request_for(station, prompt, seed, seconds), prompt)


@dataclass
class Scheduler:
    """Keeps every enabled station's backlog at or above its target, in seconds of audio."""

    stations: Callable[[], Iterable[Station]]
    generator: Generator
    backlog: Backlog
    catalog: CatalogWriter
    cache_dir: Path
    seconds_ahead: Callable[[str], float]
    # Injectable so a test can choose what each track is made from.
    seeds: Callable[[], int] = random_seed
    # Whether the disk has room for more audio (retention's free-space floor).
    room: Callable[[], bool] = lambda: True
    stats: dict[str, StationStats] = field(default_factory=dict)
    jobs: AsyncIOScheduler = field(default_factory=AsyncIOScheduler)
    _pending_seconds: dict[str, float] = field(default_factory=dict)
    _busy: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _generate_pool: ThreadPoolExecutor | None = None
    _prepare_pool: ThreadPoolExecutor | None = None

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self._generate_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        self.jobs.add_job(
            self.fill, "interval", seconds=TICK_SECONDS, id="top-up", max_instances=1, coalesce=True
        )
        self.jobs.start()

    def every_minute(self, job: Callable[[], Any], job_id: str) -> None:
        """Run `job` at the start of every minute on the radio's clock."""
        self.jobs.add_job(job, "cron", second=0, id=job_id, coalesce=True, misfire_grace_time=30)

    def every(self, seconds: float, job: Callable[[], Any], job_id: str) -> None:
        """Run `job` every `seconds` on the radio's clock, never two at once."""
        self.jobs.add_job(
            job, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True
        )

    async def stop(self) -> None:
        if self.jobs.running:
            self.jobs.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pool in (self._generate_pool, self._prepare_pool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    # -- deciding -------------------------------------------------------------
    def ahead(self, station: str) -> float:
        """Seconds of audio ahead of playout, counting what is being generated now."""
        return self.seconds_ahead(station) + self._pending_seconds.get(station, 0.0)

    def plan(self) -> list[Station]:
        """Stations under target, the one that will run dry soonest first, one batch's worth."""
        short = [s for s in self.stations() if s.enabled and self.ahead(s.id) < s.backlog_seconds]
        short.sort(key=lambda s: self.ahead(s.id))
        return short[: self.generator.max_batch]

    def request_for(self, station: Station, moment: datetime | None = None) -> Pending:
        """The next track's request: the prompt set in force now, a fresh seed."""
        seconds = station.track_seconds
        if self.ahead(station.id) == 0.0:
            seconds = min(seconds, FIRST_TRACK_SECONDS)
        return pending(station, self.seeds(), seconds, moment)

    # -- doing ----------------------------------------------------------------
    async def fill(self) -> None:
        """One tick: if the generator is idle, hand it the next batch and return.

        The tick itself stays short; the batch runs as a task of its own, so the
        interval job never overlaps itself however long generation takes."""
        if self._busy or not self.room():
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
        loop = asyncio.get_running_loop()
        maker = Maker(self.generator.name, self.generator.model)
        for index, item in enumerate(batch):
            station = item.request.station
            if results is not None and index < len(results):
                prepare = partial(
                    prepare_or_skip,
                    results[index],
                    item.prompt.title,
                    maker,
                    self.cache_dir,
                    self.catalog,
                )
                track = await loop.run_in_executor(self._prepare_pool, prepare)
                stats = self._stats(station)
                if track is None:
                    stats.failed += 1
                else:
                    self.backlog.push(track)
                    stats.generated += 1
                    stats.seconds_generated += track.duration
            self._add_pending(station, -item.request.seconds)

    def _add_pending(self, station: str, seconds: float) -> None:
        self._pending_seconds[station] = self._pending_seconds.get(station, 0.0) + seconds

    def _stats(self, station: str) -> StationStats:
        return self.stats.setdefault(station, StationStats())
