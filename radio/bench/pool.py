"""`radio bench synth --workers ray`: the synth on one Ray actor and on two, side by side.

The same requests (every genre of stations.toml, `tracks` each, rounded up to an
even count) go through the real pool (hand-off, FLAC back, unpacked on the head)
with one worker and with two, in rounds of 1, 2, 2, 1 workers, one batch in flight
per worker as the scheduler keeps them. Each worker makes one short warm-up track
first, not timed. The machine's load average is saved beside each round: on a
shared box the ratio is only as fair as the load was even.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from radio.bench.report import machine
from radio.generators import GenerationRequest, request_for
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import Station

WARM_UP_SECONDS = 2.0
READY_SECONDS = 300.0
TARGET_SPEEDUP = 1.8  # two actors on two cores against one
ORDER = (1, 2, 2, 1)  # workers in each timed round


def run_pool_benchmark(
    stations: Sequence[Station], seconds: float, tracks: int, seed: int, address: str
) -> dict[str, Any]:
    from radio.generators.pool.cluster import connect

    owns = connect(address)
    try:
        # Each round drains at its end: with 15 equal tracks, one of two workers sits
        # out the last one, which caps the ratio at 15/8 = 1.875 whatever the pool
        # does. A count that every round's workers divide keeps the drain out of it.
        count = -(-len(stations) * tracks // max(ORDER)) * max(ORDER)
        requests = [_request(stations[n % len(stations)], seed + n, seconds) for n in range(count)]
        # 1, 2, 2, 1: a load that drifts during the run weighs on both counts alike.
        rounds = [_run(workers, requests, seed) for workers in ORDER]
    finally:
        if owns:
            import ray

            ray.shutdown()
    runs = {}
    for workers in sorted(set(ORDER)):
        mine = [r for r in rounds if r["workers"] == workers]
        audio = sum(r["audio_seconds"] for r in mine)
        wall = sum(r["wall_seconds"] for r in mine)
        runs[str(workers)] = {
            "audio_seconds": audio,
            "wall_seconds": wall,
            "x_realtime": audio / wall,
        }
    speedup = runs["2"]["x_realtime"] / runs["1"]["x_realtime"]
    return {
        "benchmark": "synth on Ray workers",
        "track_seconds": seconds,
        "tracks": len(requests),
        "rounds": rounds,
        "runs": runs,
        "speedup_two_workers": speedup,
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": speedup >= TARGET_SPEEDUP,
        "machine": machine(),
    }


def _run(workers: int, requests: list[GenerationRequest], seed: int) -> dict[str, Any]:
    from radio.generators.pool.ray_pool import RayPool
    from radio.generators.pool.worker import SYNTH, WorkerSpec
    from radio.generators.synth.generator import MODEL

    pool = RayPool(WorkerSpec(SYNTH), name="synth", model=MODEL, max_batch=1, workers=workers)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while pool.capacity() < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} Ray workers not ready in {READY_SECONDS:.0f} s")
            pool.refresh()
            time.sleep(0.2)
        warm_up = [
            GenerationRequest(r.station, r.genre, r.prompt, seed - 1 - n, WARM_UP_SECONDS, r.params)
            for n, r in enumerate(requests[:workers])
        ]
        with ThreadPoolExecutor(workers) as threads:
            list(threads.map(lambda r: pool.generate([r]), warm_up))
            load_before = os.getloadavg()[0]
            cpu_before = pool.cpu_seconds()
            started = time.perf_counter()
            made = list(threads.map(lambda r: pool.generate([r])[0], requests))
            wall = time.perf_counter() - started
            cpu = pool.cpu_seconds() - cpu_before
        audio = sum(m.seconds for m in made)
        return {
            "workers": workers,
            "audio_seconds": audio,
            "wall_seconds": wall,
            "x_realtime": audio / wall,
            # The workers' CPU seconds per wall second: 2 for two workers on two free
            # cores; below that, the machine's other load took the rest.
            "worker_cpu_per_wall": cpu / wall,
            "x_realtime_per_worker_cpu": audio / cpu,
            "batches_per_worker": [w.batches for w in pool.workers()],
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0],
        }
    finally:
        pool.close()


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{'workers':>8} {'audio s':>9} {'wall s':>8} {'x real time':>12}"
        f" {'worker cpu/wall':>16} {'load 1 min':>12}"
    ]
    for run in report["rounds"]:
        load = f"{run['load_average_before']:.1f}-{run['load_average_after']:.1f}"
        lines.append(
            f"{run['workers']:>8} {run['audio_seconds']:>9.0f} {run['wall_seconds']:>8.1f}"
            f" {run['x_realtime']:>12.1f} {run['worker_cpu_per_wall']:>16.2f} {load:>12}"
        )
    for workers, run in report["runs"].items():
        lines.append(f"{workers} worker(s) over all rounds: {run['x_realtime']:.1f}x real time")
    lines.append(
        f"two workers: {report['speedup_two_workers']:.2f}x one"
        f" (target {report['target_speedup']:.1f}x) on {report['machine']['cpus']} CPUs"
    )
    return lines


def _request(station: Station, seed: int, seconds: float) -> GenerationRequest:
    return request_for(station, concrete_prompt(station, seed), seed, seconds)
