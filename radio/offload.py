"""Generation and preparation's signal stages in worker processes of their own.

Both are seconds of CPU-bound Python and numpy a track. On the server's threads they
share its interpreter lock with fifteen playouts and keep their working memory in
its heap (a 90 s track is 32 MB a copy, and preparation makes several, up to 4x
oversampled for true peak): with the synth generating, the server's RSS was 480 MB
at 1,000 listeners against about 300 MB at rest (issue #8). In a process of its own
each runs on another core at a lower priority than playout, its memory comes and
goes away from the listeners', and a crash in native code (libfluidsynth) costs one
batch, not the radio.

Audio crosses between them on disk, never through the server's memory: the generator
process writes each track as a `.npy` spill in the station's cache folder under a
`.tmp` name (the startup sweep removes any a crash leaves behind) and hands back its
path; the server maps it without reading it, and the preparation process reads it
from there and writes the FLAC. The scheduler deletes the spill once the track is
prepared or given up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from radio.errors import GeneratorUnavailable, WorkerDied
from radio.generators.base import GeneratedAudio, GenerationRequest
from radio.generators.pool.worker import Worker, WorkerSpec
from radio.malloc import tune_allocator
from radio.prepare import CachedAudio, cache_audio

log = logging.getLogger(__name__)
T = TypeVar("T")

# Below playout (nice 0): a worker busy on every core still leaves playout its turn.
NICE = 10
SPILL_SUFFIX = ".npy.tmp"
ORPHAN_CHECK_SECONDS = 1.0


class WorkerProcess:
    """One spawned worker process and blocking calls into it; restarted after a crash.

    Spawned, not forked: the server has threads (playout, the catalog), and a fork
    copies whatever lock one of them held. Call from worker threads, never the loop."""

    def __init__(
        self, name: str, setup: Callable[..., None] | None = None, args: tuple[Any, ...] = ()
    ) -> None:
        self.name = name
        self._setup = setup
        self._args = args
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.pid: int | None = None
        self.cpu_seconds_spent = 0.0  # on calls, in the process: what /metrics counts

    def call(self, function: Callable[..., T], *args: Any) -> T:
        pool = self._running()
        try:
            future = pool.submit(_timed, function, *args)
        except BrokenProcessPool as exc:
            raise self._died(pool, exc) from None
        except RuntimeError as exc:  # shut down since _running(): the radio is stopping
            raise WorkerDied(f"the {self.name} worker process was stopped") from exc
        try:
            result, cpu = future.result()
        except BrokenProcessPool as exc:
            raise self._died(pool, exc) from None
        with self._lock:
            self.cpu_seconds_spent += cpu
        return result

    def _died(self, pool: ProcessPoolExecutor, exc: BaseException) -> WorkerDied:
        with self._lock:
            if self._pool is pool:  # the next call starts a fresh process
                self._pool, self.pid = None, None
        return WorkerDied(f"the {self.name} worker process died: {exc}")

    def start(self) -> int:
        """Start the process now (it otherwise starts with the first call); its pid."""
        self._running()
        assert self.pid is not None
        return self.pid

    def close(self) -> None:
        """End the process at once: what it was doing is abandoned (a hung model too)."""
        with self._lock:
            pool, pid = self._pool, self.pid
            self._pool, self.pid = None, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                level = logging.getLogger().getEffectiveLevel()
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=get_context("spawn"),
                    initializer=_begin,
                    initargs=(level, self._setup, self._args),
                )
                try:
                    self.pid = self._pool.submit(os.getpid).result()
                except BrokenProcessPool as exc:  # it did not get as far as its first call
                    self._pool = None
                    raise WorkerDied(
                        f"the {self.name} worker process did not start: {exc}"
                    ) from None
                log.info("%s worker process started (pid %d)", self.name, self.pid)
            return self._pool


def _begin(level: int, setup: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    """First thing in a worker process: its priority, signals and logging, then `setup`."""
    os.nice(NICE)
    tune_allocator()  # a track's buffers go back to the system once it is done, as in the server
    # Ctrl-C reaches the whole process group; the server decides when its workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s [worker]: %(message)s"
    )
    threading.Thread(target=_orphan_watch, args=(os.getppid(),), daemon=True).start()
    if setup is not None:
        setup(*args)


def _orphan_watch(server: int) -> None:
    """End this worker once the server is gone: a server killed outright (SIGKILL, OOM)
    cannot stop its workers, and each holds its own call queue open, so none would
    otherwise notice."""
    while os.getppid() == server:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def worker_of(owner: object) -> WorkerProcess | None:
    """The worker process a generator or the preparation stages run in; None in-process."""
    worker = getattr(owner, "worker", None)
    return worker if isinstance(worker, WorkerProcess) else None


def spent_cpu(owner: object) -> float:
    """CPU seconds `owner`'s worker process has spent on calls (0 in-process)."""
    worker = worker_of(owner)
    return worker.cpu_seconds_spent if worker is not None else 0.0


def _timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.process_time()
    return function(*args), time.process_time() - started


# -- preparation ----------------------------------------------------------------------


class PreparationProcess:
    """`cache_audio` run in a worker process: the `stages` the scheduler's preparation takes."""

    def __init__(self) -> None:
        self.worker = WorkerProcess("preparation")

    def __call__(self, generated: GeneratedAudio, cache_dir: Path) -> CachedAudio:
        return self.worker.call(cache_audio, generated, cache_dir)

    def close(self) -> None:
        self.worker.close()


# -- generation -----------------------------------------------------------------------


@dataclass(frozen=True)
class SpilledAudio(GeneratedAudio):
    """Generated audio held in a spill file: `samples` maps it, and it travels by its path."""

    spill: Path = field(default=Path())

    @classmethod
    def load(
        cls, request: GenerationRequest, spill: Path, rate: int, parameters: dict[str, object]
    ) -> SpilledAudio:
        return cls(request, np.load(spill, mmap_mode="r"), rate, parameters, spill)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for the preparation process as its path: the audio is read there.
        return (
            SpilledAudio.load,
            (self.request, self.spill, self.sample_rate, dict(self.parameters)),
        )


def discard(generated: GeneratedAudio) -> None:
    """Delete a track's spill file, once it is prepared or given up."""
    if isinstance(generated, SpilledAudio):
        generated.spill.unlink(missing_ok=True)


@dataclass(frozen=True)
class About:
    name: str
    model: str
    max_batch: int
    parameters: dict[str, object]
    error: str | None  # why the generator could not be built there


class ProcessGenerator:
    """A Generator whose model lives in a worker process; its audio comes back spilled."""

    def __init__(self, spec: WorkerSpec, cache_dir: Path) -> None:
        self.worker = WorkerProcess("generator", _build, (spec,))
        self.cache_dir = cache_dir
        about = self.worker.call(_about)
        if about.error is not None:
            self.worker.close()
            raise GeneratorUnavailable(about.error)
        self.name, self.model, self.max_batch = about.name, about.model, about.max_batch
        self.parameters = about.parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        spilled = self.worker.call(_generate, list(requests), self.cache_dir)
        return [SpilledAudio.load(*made) for made in spilled]

    def close(self) -> None:
        self.worker.close()


# The generator process's own generator, built once by `_build`.
_worker: Worker | None = None


def _build(spec: WorkerSpec) -> None:
    global _worker
    _worker = Worker(spec)


def _about() -> About:
    assert _worker is not None
    made = _worker.generator
    if made is None:
        return About("", "", 1, {}, _worker.error or "no generator")
    parameters = dict(getattr(made, "parameters", {}) or {})
    return About(made.name, made.model, made.max_batch, parameters, None)


Spilled = tuple[GenerationRequest, Path, int, dict[str, object]]


def _generate(requests: list[GenerationRequest], cache_dir: Path) -> list[Spilled]:
    assert _worker is not None and _worker.generator is not None
    made = _worker.generator.generate(requests)
    spilled: list[Spilled] = []
    try:
        for audio in made:
            path = _spill_path(cache_dir, audio.request)
            spilled.append((audio.request, path, audio.sample_rate, dict(audio.parameters)))
            _spill(path, audio)
    except BaseException:
        for _, path, _, _ in spilled:
            path.unlink(missing_ok=True)
        raise
    return spilled


def _spill_path(cache_dir: Path, request: GenerationRequest) -> Path:
    folder = cache_dir / request.station
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".{request.seed}-{secrets.token_hex(4)}{SPILL_SUFFIX}"


def _spill(path: Path, audio: GeneratedAudio) -> None:
    # Through a file object: given a path, np.save would add ".npy" after ".tmp".
    with path.open("wb") as out:
        np.save(out, np.ascontiguousarray(audio.samples, dtype=np.float32))
