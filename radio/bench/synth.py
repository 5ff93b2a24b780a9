"""`radio bench synth`: stations.toml in, the synth's speed per genre on one core out (JSON).

Every station's genre is timed on real requests (its own prompt template and pools,
through `concrete_prompt`), after one short warm-up track per genre so that one-off
work (wavetables, filter designs) is not charged to the first track.

The synth is single-threaded by construction: numpy element-wise maths, scipy's FFT
with its default single worker, and no BLAS calls. To make the figure a one-core
figure regardless, the process is pinned to one CPU while timing (Linux
`sched_setaffinity`; elsewhere the report says it was not pinned), and the report
gives CPU seconds per wall second so a reader can check it stayed near 1.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np
import scipy

from radio.bench.report import save
from radio.generators import GenerationRequest
from radio.generators.synth import SynthGenerator
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import Station, load_stations
from radio.settings import WORKERS

WARM_UP_SECONDS = 2.0
TARGET = 50.0  # times real time on one core


@click.command("synth")
@click.option(
    "--seconds",
    type=click.FloatRange(1.0, 600.0),
    default=60.0,
    show_default=True,
    help="Length of each track.",
)
@click.option(
    "--tracks", type=click.IntRange(1, 100), default=1, show_default=True, help="Per genre."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the first track.")
@click.option(
    "--stations",
    "stations_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("stations.toml"),
    show_default=True,
)
@click.option("--pin/--no-pin", default=True, show_default=True, help="Pin to one CPU.")
@click.option(
    "--workers",
    type=click.Choice(WORKERS),
    default="local",
    show_default=True,
    help="ray: one Ray actor, then two, side by side (radio/bench/pool.py).",
)
@click.option("--ray-address", default="auto", show_default=True, help="For --workers ray.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("cache/bench/synth.json"),
    show_default=True,
)
def synth_command(
    seconds: float,
    tracks: int,
    seed: int,
    stations_path: Path,
    pin: bool,
    workers: str,
    ray_address: str,
    output: Path,
) -> None:
    """Time the built-in synth on every genre of stations.toml."""
    config = load_stations(stations_path)
    if workers == "ray":
        from radio.bench import pool

        report = pool.run_pool_benchmark(config.stations, seconds, tracks, seed, ray_address)
        save(report, output.with_name(output.stem + "-ray.json"), pool.table(report))
        return
    with _one_cpu(pin) as pinned:
        report = run_benchmark(config.stations, seconds, tracks, seed)
    report["machine"]["pinned_to_cpu"] = pinned
    save(report, output, table(report))


def run_benchmark(
    stations: tuple[Station, ...], seconds: float, tracks: int, seed: int
) -> dict[str, Any]:
    generator = SynthGenerator()
    genres: dict[str, dict[str, float]] = {}
    for station in stations:
        generator.generate([_request(station, seed - 1, WARM_UP_SECONDS)])
        wall = cpu = 0.0
        for n in range(tracks):
            request = _request(station, seed + n, seconds)
            started, cpu_started = time.perf_counter(), time.process_time()
            generator.generate([request])
            wall += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
        entry = genres.setdefault(station.genre, {"audio_seconds": 0.0, "wall_seconds": 0.0})
        entry["audio_seconds"] += seconds * tracks
        entry["wall_seconds"] += wall
        entry["cpu_seconds"] = entry.get("cpu_seconds", 0.0) + cpu
    for entry in genres.values():
        entry["x_realtime"] = entry["audio_seconds"] / entry["wall_seconds"]
        entry["x_realtime_cpu"] = entry["audio_seconds"] / entry["cpu_seconds"]
        entry["cpu_per_wall"] = entry["cpu_seconds"] / entry["wall_seconds"]
    audio = sum(e["audio_seconds"] for e in genres.values())
    wall = sum(e["wall_seconds"] for e in genres.values())
    cpu = sum(e["cpu_seconds"] for e in genres.values())
    slowest = min(genres, key=lambda genre: genres[genre]["x_realtime"])
    return {
        "benchmark": "synth",
        "model": generator.model,
        "track_seconds": seconds,
        "tracks_per_genre": tracks,
        "target_x_realtime": TARGET,
        "overall": {
            "audio_seconds": audio,
            "wall_seconds": wall,
            "x_realtime": audio / wall,
            # Audio per CPU second: what one uncontended core would do. On a shared machine
            # cpu_per_wall falls below 1 and this is the fairer of the two figures.
            "x_realtime_cpu": audio / cpu,
            "slowest_genre": slowest,
            "slowest_x_realtime": genres[slowest]["x_realtime"],
            "meets_target": genres[slowest]["x_realtime"] >= TARGET,
        },
        "genres": genres,
        "machine": _machine(),
    }


def table(report: dict[str, Any]) -> list[str]:
    lines = [f"{'genre':<16} {'x real time':>12} {'x per cpu s':>12} {'cpu/wall':>9}"]
    for genre, entry in report["genres"].items():
        lines.append(
            f"{genre:<16} {entry['x_realtime']:>12.1f} {entry['x_realtime_cpu']:>12.1f}"
            f" {entry['cpu_per_wall']:>9.2f}"
        )
    overall = report["overall"]
    lines.append(
        f"{'overall':<16} {overall['x_realtime']:>12.1f} {overall['x_realtime_cpu']:>12.1f}"
        f"   slowest {overall['slowest_genre']} {overall['slowest_x_realtime']:.1f}x"
        f" (target {report['target_x_realtime']:.0f}x)"
    )
    return lines


def _request(station: Station, seed: int, seconds: float) -> GenerationRequest:
    prompt = concrete_prompt(station, seed)
    return GenerationRequest(station.id, station.genre, prompt.text, seed, seconds, prompt.params)


@contextmanager
def _one_cpu(pin: bool) -> Iterator[int | None]:
    """Run the body on a single CPU where the OS lets us choose; yields that CPU or None."""
    if not pin or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def _machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
