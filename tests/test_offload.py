"""Generation and preparation in worker processes: same audio, spilled on disk and
cleaned up, crashes and hangs contained, and no worker outliving the server."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from radio.backlog import Backlog
from radio.catalog import CatalogWriter
from radio.errors import GeneratorUnavailable, WorkerDied
from radio.generators import GenerationRequest
from radio.generators.pool.worker import SYNTH, WorkerSpec
from radio.generators.synth import SynthGenerator
from radio.lineup.stations import parse_stations
from radio.offload import (
    SPILL_SUFFIX,
    PreparationProcess,
    ProcessGenerator,
    SpilledAudio,
    WorkerProcess,
    discard,
    spent_cpu,
)
from radio.prepare import cache_audio
from radio.scheduler import Scheduler
from radio.settings import Settings
from tests.dummies import ToneGenerator
from tests.support import StartServer, short_lineup, wait_until

TONES = WorkerSpec("tests.dummies:ToneGenerator", {"max_batch": 2})


def spills(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"*/.*{SPILL_SUFFIX}"))


@pytest.fixture
def tones(tmp_path: Path) -> Iterator[ProcessGenerator]:
    generator = ProcessGenerator(TONES, tmp_path)
    yield generator
    generator.close()


def test_the_synth_in_a_worker_process_makes_the_same_audio_spilled_on_disk(
    tmp_path: Path,
) -> None:
    request = GenerationRequest("jazz", "Jazz", "smoky jazz", seed=42, seconds=6.0)
    generator = ProcessGenerator(WorkerSpec(SYNTH, {"soundfont": Settings.soundfont}), tmp_path)
    try:
        assert (generator.name, generator.max_batch) == ("synth", 1)
        assert generator.worker.pid not in (None, os.getpid())
        [made] = generator.generate([request])
    finally:
        generator.close()
    here = SynthGenerator(Settings.soundfont).generate([request])[0]
    assert isinstance(made, SpilledAudio) and isinstance(made.samples, np.memmap)
    assert made.spill.parent == tmp_path / "jazz" and spills(tmp_path) == [made.spill]
    np.testing.assert_array_equal(made.samples, here.samples)
    assert made.parameters == here.parameters
    assert spent_cpu(generator) > 0.0  # the worker's CPU, for /metrics
    # It travels to the preparation process as its path, not its megabytes.
    assert len(pickle.dumps(made)) < 4096 < made.samples.nbytes
    discard(made)
    assert spills(tmp_path) == []


def test_preparation_in_a_worker_process_writes_what_the_server_would(
    tmp_path: Path, tones: ProcessGenerator
) -> None:
    request = GenerationRequest("jazz", "Jazz", "jazz", seed=7, seconds=3.0)
    [spilled] = tones.generate([request])
    preparation = PreparationProcess()
    try:
        there = preparation(spilled, tmp_path / "there")
        # Audio held in memory (a generator in the server's process) goes too.
        from_memory = preparation(ToneGenerator().generate([request])[0], tmp_path / "memory")
    finally:
        preparation.close()
    here = cache_audio(ToneGenerator().generate([request])[0], tmp_path / "here")
    assert there == here == from_memory
    assert (tmp_path / "there" / there.path).is_file()
    assert spent_cpu(preparation) > 0.0


def test_a_worker_that_dies_costs_one_call_and_the_next_starts_afresh() -> None:
    worker = WorkerProcess("test")
    try:
        first = worker.start()
        with pytest.raises(WorkerDied, match="test worker process died"):
            worker.call(os._exit, 3)  # a crash in native code looks like this
        assert worker.call(os.getpid) not in (first, os.getpid())
    finally:
        worker.close()


def test_a_worker_that_cannot_start_says_so() -> None:
    worker = WorkerProcess("doomed", os._exit, (1,))  # its setup ends it
    with pytest.raises(WorkerDied, match="doomed worker process did not start"):
        worker.start()
    assert worker.pid is None


def test_closing_ends_a_hung_call_at_once() -> None:
    worker = WorkerProcess("hung")
    worker.start()
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            worker.call(time.sleep, 600)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=hang)
    caller.start()
    time.sleep(0.5)  # the call is under way in the worker
    started = time.monotonic()
    worker.close()
    caller.join(10)
    assert not caller.is_alive() and time.monotonic() - started < 10
    assert isinstance(outcome[0], WorkerDied)


def test_a_generator_that_cannot_be_built_there_says_why(tmp_path: Path) -> None:
    broken = WorkerSpec("radio.generators.pool.worker:musicgen", {"model": "/no/such/model"})
    with pytest.raises(GeneratorUnavailable):
        ProcessGenerator(broken, tmp_path)


ORPHAN = """
import sys
from radio.offload import WorkerProcess
if __name__ == "__main__":
    print(WorkerProcess("orphan").start(), flush=True)
    sys.stdin.read()
"""


def test_workers_end_when_the_server_is_killed_outright(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(ORPHAN)
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        os.kill(worker, 0)  # alive while the server is
        server.send_signal(signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is left


async def test_the_scheduler_prepares_spilled_tracks_and_leaves_no_spill(
    tmp_path: Path, tones: ProcessGenerator
) -> None:
    lineup = parse_stations(short_lineup(track_seconds=3))
    preparation = PreparationProcess()
    with CatalogWriter(tmp_path / "catalog.db") as catalog:
        backlog = Backlog(catalog, tmp_path)
        scheduler = Scheduler(
            stations=lambda: lineup.stations,
            generator=tones,
            backlog=backlog,
            catalog=catalog,
            cache_dir=tmp_path,
            seconds_ahead=backlog.seconds_queued,
            stages=preparation,
        )
        scheduler.start()
        try:
            ids = [s.id for s in lineup.stations]
            await wait_until(
                lambda: all(backlog.seconds_queued(s) > 0 for s in ids), 60, "a track each"
            )
            scheduler.jobs.pause()  # no new batch: what is in flight is all there is
            await scheduler.settle()
            assert spills(tmp_path) == []
        finally:
            await scheduler.stop()
            preparation.close()
        assert all(t.path.is_file() for s in ids for t in backlog.queued(s))
        assert all(scheduler.stats[s].cpu_seconds > 0 for s in ids)


async def test_a_server_prepares_in_its_worker_process_and_ends_it_on_stop(
    start_server: StartServer, tmp_path: Path
) -> None:
    client, radio = await start_server(worker_processes=True)
    assert radio.preparation is not None
    await wait_until(
        lambda: all(a.playout.now for a in radio.on_air.values()), 60, "every station on air"
    )
    worker = radio.preparation.worker.pid
    assert worker is not None and _alive(worker)
    body = await (await client.get("/metrics")).text()
    assert spills(tmp_path / "cache") == []
    await client.close()  # the server stops
    assert radio.preparation.worker.pid is None
    await wait_until(lambda: not _alive(worker), 10, "the worker process to end")
    cpu = [
        float(line.split()[-1])
        for line in body.splitlines()
        if line.startswith("radio_generation_cpu_seconds_total{")
    ]
    assert cpu and all(seconds > 0 for seconds in cpu)  # preparation's CPU, from the worker
    # The worker's own memory is on /metrics beside the server's, which does not hold it.
    [memory] = [
        float(line.split()[-1])
        for line in body.splitlines()
        if line.startswith("radio_preparation_worker_process_resident_memory_bytes ")
    ]
    assert memory > 10e6
