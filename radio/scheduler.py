"""Station backlogs in, batched generation requests out; the station closest to dry goes first.

The scheduler is the radio's one clock: an APScheduler that ticks the backlog
top-up twice a second and runs the core's other periodic jobs (daypart
boundaries). A tick only decides; each batch is generated on a thread of its own
(a hung model must not hold a stop) and prepared on another, so while batch N is
being normalised and written, batch N+1 is already generating. Neither touches
the event loop. A local generator takes one batch at a time (the GPU is one
device); a pool of workers (`--workers ray`, issue #12) takes one per ready
worker, and each round the stations closest to dry are spread across them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.generators import GeneratedAudio, GenerationRequest, Generator, request_for
from radio.generators.pool import Pooled
from radio.lineup.dayparts import daypart_at
from radio.lineup.prompts import ConcretePrompt, concrete_prompt
from radio.lineup.stations import Station
from radio.offload import discard, spent_cpu
from radio.prepare import Maker, Stages, cache_audio, prepare_or_skip

log = logging.getLogger(__name__)
T = TypeVar("T")

TICK_SECONDS = 0.5
# A station with nothing to play gets a short first track, so a fresh install has
# every station on air within seconds rather than after fifteen full-length tracks.
FIRST_TRACK_SECONDS = 20.0


MAX_RETRY_SECONDS = 60.0  # the longest rest after failures in a row (1, 2, 4 ... s)
# Generated batches not yet prepared, at most: one preparing while the next waits. The
# synth generates faster than preparation normalises (measured 2x), and unprepared
# audio is held decoded in memory, so without a bound memory grew with every batch.
MAX_UNPREPARED_BATCHES = 2


class _QuietCancelledJobs(logging.Filter):
    """APScheduler cancels a coroutine job still running when it shuts down, then logs
    the cancellation as an error with a traceback: a normal stop is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


_QUIET_CANCELLED = _QuietCancelledJobs()
# Where APScheduler's default executor logs a job's failure.
JOB_ERRORS_LOGGER = "apscheduler.executors.default"


def target(station: Station) -> float:
    """Seconds of fresh audio to keep ahead: the station's backlog, and never less than
    one track and its crossfade, so the next track is made while one plays (#9: with a
    target below that, a fresh station looped its first track until a second existed)."""
    return max(station.backlog_seconds, station.track_seconds + station.crossfade_seconds)


def random_seed() -> int:
    return secrets.randbits(31)


@dataclass
class StationStats:
    generated: int = 0
    failed: int = 0
    seconds_generated: float = 0.0
    seconds_busy: float = 0.0  # wall time spent generating this station's audio
    # CPU time this process spent generating and preparing the station's audio (a
    # Ray worker's own CPU is not in it): what delivery figures leave out.
    cpu_seconds: float = 0.0


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
    # What makes a cache file of generated audio: on a prepare thread, or in a worker
    # process (`radio.offload.PreparationProcess`).
    stages: Stages = cache_audio
    stats: dict[str, StationStats] = field(default_factory=dict)
    jobs: AsyncIOScheduler = field(default_factory=AsyncIOScheduler)
    _pending_seconds: dict[str, float] = field(default_factory=dict)
    batches_made: int = 0  # for the pool's view of a local generator
    batches_failed: int = 0
    _in_flight: int = 0  # batches handed to the generator and not yet back
    _unprepared: int = 0  # batches generated and not yet prepared
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _generating: list[GenerationRequest] = field(default_factory=list)  # the batches in flight
    _failures: int = 0  # generation failures in a row, for the back-off
    _retry_at: float = 0.0  # loop time before which a failing generator is not asked again
    _prepare_pool: ThreadPoolExecutor | None = None
    # Plan fingerprints generated by this process, some not in the catalog yet (the
    # next batch generates while this one is prepared).
    _planned: dict[str, set[str]] = field(default_factory=dict)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self._prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        logging.getLogger(JOB_ERRORS_LOGGER).addFilter(_QUIET_CANCELLED)  # once: a no-op after
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
        if self._generating:
            # A generator that does not return must not hold the stop: its thread is a
            # daemon, so the process ends without it and the batch is simply not made.
            log.warning(
                "stopping: abandoning generation in flight for %s", _names(self._generating)
            )
        # Until none is left: a batch whose generation returned just as it was cancelled
        # may still hand its tracks to a new preparing task, which must not outlive the
        # pool below (it would submit to a pool already shut down).
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._prepare_pool is not None:
            # Off the loop: the track being prepared takes a second or more to finish, and
            # every station still plays meanwhile (the soak measured all fifteen 1.3 s late
            # when this waited on the loop).
            pool = self._prepare_pool
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    # -- deciding -------------------------------------------------------------
    def ahead(self, station: str) -> float:
        """Seconds of audio ahead of playout, counting what is being generated now."""
        return self.seconds_ahead(station) + self._pending_seconds.get(station, 0.0)

    def short(self) -> list[Station]:
        """Stations under target, the one that will run dry soonest first."""
        short = [s for s in self.stations() if s.enabled and self.ahead(s.id) < target(s)]
        short.sort(key=lambda s: self.ahead(s.id))
        return short

    def plan(self) -> list[Station]:
        """The next batch: the stations that run dry soonest, one batch's worth."""
        return self.short()[: self.generator.max_batch]

    def batches(self, free: int) -> list[list[Pending]]:
        """Up to `free` batches, the stations short now spread evenly across them,
        soonest dry first, so two idle workers make two tracks at once, not one of two."""
        batches: list[list[Pending]] = []
        short = self.short() if free > 0 else []
        for left in range(free, 0, -1):
            if not short:
                break
            size = min(self.generator.max_batch, math.ceil(len(short) / left))
            batch = [self.request_for(s) for s in short[:size]]
            short = short[size:]
            for item in batch:
                self._add_pending(item.request.station, item.request.seconds)
            batches.append(batch)
        return batches

    def free(self) -> int:
        """Batches the generator can take now."""
        capacity = self.generator.capacity() if isinstance(self.generator, Pooled) else 1
        # Generated audio waits for preparation in memory: past one batch preparing and
        # one waiting, each further one costs a worker its turn.
        waiting = max(0, self._unprepared - (MAX_UNPREPARED_BATCHES - 1))
        return max(0, capacity - self._in_flight - waiting)

    def request_for(self, station: Station, moment: datetime | None = None) -> Pending:
        """The next track's request: the prompt set in force now, a fresh seed."""
        seconds = station.track_seconds
        if self.ahead(station.id) == 0.0:
            seconds = min(seconds, FIRST_TRACK_SECONDS)
        return pending(station, self.seeds(), seconds, moment)

    # -- doing ----------------------------------------------------------------
    async def fill(self) -> None:
        """One tick: hand each idle worker (a local generator is one) a batch and return.

        The tick itself stays short; each batch runs as a task of its own, so the
        interval job never overlaps itself however long generation takes."""
        if isinstance(self.generator, Pooled):
            # Workers that became ready or joined the cluster are used this round.
            await asyncio.to_thread(self.generator.refresh)
        if not self.room() or asyncio.get_running_loop().time() < self._retry_at:
            return  # a failing generator is given a rest, not asked twice a second
        for batch in self.batches(self.free()):
            self._in_flight += 1
            self._spawn(self._run(batch))

    async def settle(self) -> None:
        """Wait until every batch in flight has been generated and prepared."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, batch: list[Pending]) -> None:
        try:
            await self._tell_used_plans(batch)
            results = await self._generate(batch)
        finally:
            self._in_flight -= 1
        # Preparing this batch overlaps generating the next one.
        self._unprepared += 1
        self._spawn(self._prepare_all(batch, results))

    async def _tell_used_plans(self, batch: list[Pending]) -> None:
        """Give each request the plans its station already has, so none is made twice (#9)."""
        stations = {item.request.station for item in batch}
        try:
            used = await self.catalog.run(lambda c: {s: c.fingerprints(s) for s in stations})
        except Exception as exc:  # a catalog hiccup costs variety, never a track
            log.warning("cannot read the plans already used: %s", exc)
            used = {}
        for item in batch:
            station = item.request.station
            plans = used.get(station, set()) | self._planned.get(station, set())
            item.request = replace(item.request, used_plans=frozenset(plans))

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _generate(self, batch: list[Pending]) -> list[GeneratedAudio] | None:
        loop = asyncio.get_running_loop()
        requests = [item.request for item in batch]
        started = loop.time()
        self._generating.extend(requests)
        try:
            call = partial(self.generator.generate, requests)
            before = spent_cpu(self.generator)
            results, cpu = await in_daemon_thread(partial(thread_cpu, call))
            cpu += spent_cpu(self.generator) - before
        except Exception as exc:  # any model failure: log it, the stations play on
            self._failures += 1
            self.batches_failed += 1
            rest = min(MAX_RETRY_SECONDS, 2.0 ** (self._failures - 1))
            self._retry_at = loop.time() + rest
            log.error(
                "generation failed for %s: %s; retrying in %.0f s", _names(requests), exc, rest
            )
            for r in requests:
                self._stats(r.station).failed += 1
            return None
        finally:
            for r in requests:
                self._generating.remove(r)
        self._failures = 0
        for result in results:
            plan = result.parameters.get("fingerprint")
            if plan is not None:
                self._planned.setdefault(result.request.station, set()).add(str(plan))
        self.batches_made += 1
        elapsed = loop.time() - started
        for r in requests:
            stats = self._stats(r.station)
            stats.seconds_busy += elapsed / len(requests)
            stats.cpu_seconds += cpu / len(requests)
        return results

    async def _prepare_all(
        self, batch: list[Pending], results: list[GeneratedAudio] | None
    ) -> None:
        try:
            await self._prepare_each(batch, results)
        finally:
            self._unprepared -= 1
            for generated in results or ():  # spilled audio is deleted, prepared or not
                discard(generated)

    async def _prepare_each(
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
                    item.prompt.alternatives,
                    self.stages,
                )
                before = spent_cpu(self.stages)
                track, cpu = await loop.run_in_executor(
                    self._prepare_pool, partial(thread_cpu, prepare)
                )
                cpu += spent_cpu(self.stages) - before
                stats = self._stats(station)
                stats.cpu_seconds += cpu
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


def _names(requests: list[GenerationRequest]) -> str:
    return ", ".join(f"{r.station} (seed {r.seed})" for r in requests)


def thread_cpu(call: Callable[[], T]) -> tuple[T, float]:
    """The call's result and the CPU seconds its thread spent on it."""
    started = time.thread_time()
    result = call()
    return result, time.thread_time() - started


def in_daemon_thread(call: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call on a daemon thread of its own and await its result.

    For calls that may never return (a hung model): a pool's threads are joined when
    the interpreter exits, so one stuck call would keep the process alive forever."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # cancelled while the call ran: nobody is waiting for it
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: the process is ending
            loop.call_soon_threadsafe(settle, result, error)

    thread = threading.Thread(target=work, name="generate", daemon=True)
    _generating.add(thread)
    thread.start()
    return future


# Generation threads that may still run after the radio stopped without them.
_generating: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def finish_generation(seconds: float) -> bool:
    """Give abandoned generation up to `seconds` to end; True if none is left.

    For the process's exit: an interpreter that finalises under a daemon thread inside
    native code (scipy's C++ FFT, a model) can abort with "terminate called without an
    active exception". A hung model still cannot hold the exit longer than this."""
    deadline = time.monotonic() + seconds
    for thread in list(_generating):
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in _generating)
