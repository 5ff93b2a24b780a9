"""`radio bench synth`: stations.toml in, the synth's speed per genre on one core out (JSON).

Every station's genre is timed on real requests (its own prompt template and pools,
through `concrete_prompt`), after one short warm-up track per genre so that one-off
work (wavetables, filter designs, presets) is not charged to the first track. Both
renderers play the same requests side by side, genre by genre, so that they share
whatever load the machine had: FluidSynth with the SoundFont (when installed) and
the sine voices that are its fallback.

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

from radio.bench.report import output_option, save, soundfont_option, stations_option
from radio.generators import GenerationRequest, request_for
from radio.generators.synth import SynthGenerator
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import Station, load_stations
from radio.settings import WORKERS

WARM_UP_SECONDS = 2.0
# Times real time on one core: issue 9 asks at least 20x of the sampled instruments;
# the sine voices have always done 50x.
TARGETS = {"fluidsynth": 20.0, "sine": 50.0}


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
@stations_option()
@soundfont_option("SoundFont of the FluidSynth renderer (missing: only the sine voices are timed).")
@click.option("--pin/--no-pin", default=True, show_default=True, help="Pin to one CPU.")
@click.option(
    "--workers",
    type=click.Choice(WORKERS),
    default="local",
    show_default=True,
    help="ray: one Ray actor, then two, side by side (radio/bench/pool.py).",
)
@click.option("--ray-address", default="auto", show_default=True, help="For --workers ray.")
@output_option("synth")
def synth_command(
    seconds: float,
    tracks: int,
    seed: int,
    stations_path: Path,
    soundfont: Path,
    pin: bool,
    workers: str,
    ray_address: str,
    output: Path,
) -> None:
    """Time the built-in synth's two renderers on every genre of stations.toml."""
    config = load_stations(stations_path)
    if workers == "ray":
        from radio.bench import pool

        report = pool.run_pool_benchmark(config.stations, seconds, tracks, seed, ray_address)
        save(report, output.with_name(output.stem + "-ray.json"), pool.table(report))
        return
    generators = {"fluidsynth": SynthGenerator(soundfont), "sine": SynthGenerator(None)}
    if generators["fluidsynth"].instruments is None:
        del generators["fluidsynth"]
    with _one_cpu(pin) as pinned:
        report = run_benchmark(config.stations, seconds, tracks, seed, generators)
    report["machine"]["pinned_to_cpu"] = pinned
    save(report, output, table(report))


def run_benchmark(
    stations: tuple[Station, ...],
    seconds: float,
    tracks: int,
    seed: int,
    generators: dict[str, SynthGenerator],
) -> dict[str, Any]:
    genres: dict[str, dict[str, dict[str, float]]] = {}
    for station in stations:
        for renderer, generator in generators.items():
            generator.generate([_request(station, seed - 1, WARM_UP_SECONDS)])
            wall = cpu = 0.0
            for n in range(tracks):
                request = _request(station, seed + n, seconds)
                started, cpu_started = time.perf_counter(), time.process_time()
                generator.generate([request])
                wall += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
            entry = genres.setdefault(station.genre, {}).setdefault(
                renderer, {"audio_seconds": 0.0, "wall_seconds": 0.0, "cpu_seconds": 0.0}
            )
            entry["audio_seconds"] += seconds * tracks
            entry["wall_seconds"] += wall
            entry["cpu_seconds"] += cpu
    for by_renderer in genres.values():
        for entry in by_renderer.values():
            entry["x_realtime"] = entry["audio_seconds"] / entry["wall_seconds"]
            entry["x_realtime_cpu"] = entry["audio_seconds"] / entry["cpu_seconds"]
            entry["cpu_per_wall"] = entry["cpu_seconds"] / entry["wall_seconds"]
    first = next(iter(generators.values()))
    return {
        "benchmark": "synth",
        "model": first.model,
        "soundfont": str(generators["fluidsynth"].instruments_name)
        if "fluidsynth" in generators
        else None,
        "track_seconds": seconds,
        "tracks_per_genre": tracks,
        "target_x_realtime": {r: TARGETS[r] for r in generators},
        "overall": {r: _overall(genres, r) for r in generators},
        "genres": genres,
        "machine": _machine(),
    }


def _overall(genres: dict[str, dict[str, dict[str, float]]], renderer: str) -> dict[str, Any]:
    mine = {genre: by_renderer[renderer] for genre, by_renderer in genres.items()}
    audio = sum(e["audio_seconds"] for e in mine.values())
    wall = sum(e["wall_seconds"] for e in mine.values())
    cpu = sum(e["cpu_seconds"] for e in mine.values())
    slowest = min(mine, key=lambda genre: mine[genre]["x_realtime"])
    return {
        "audio_seconds": audio,
        "wall_seconds": wall,
        "x_realtime": audio / wall,
        # Audio per CPU second: what one uncontended core would do. On a shared machine
        # cpu_per_wall falls below 1 and this is the fairer of the two figures.
        "x_realtime_cpu": audio / cpu,
        "slowest_genre": slowest,
        "slowest_x_realtime": mine[slowest]["x_realtime"],
        "slowest_x_realtime_cpu": min(e["x_realtime_cpu"] for e in mine.values()),
        "meets_target": mine[slowest]["x_realtime"] >= TARGETS[renderer],
    }


def table(report: dict[str, Any]) -> list[str]:
    renderers = list(report["overall"])
    head = f"{'genre':<16}" + "".join(
        f" {r + ' x real time':>22} {'x per cpu s':>12} {'cpu/wall':>9}" for r in renderers
    )
    lines = [head]
    for genre, by_renderer in report["genres"].items():
        cells = "".join(
            f" {e['x_realtime']:>22.1f} {e['x_realtime_cpu']:>12.1f} {e['cpu_per_wall']:>9.2f}"
            for e in (by_renderer[r] for r in renderers)
        )
        lines.append(f"{genre:<16}{cells}")
    for renderer in renderers:
        overall = report["overall"][renderer]
        lines.append(
            f"{renderer + ' overall':<22} {overall['x_realtime']:>8.1f}x"
            f" ({overall['x_realtime_cpu']:.1f}x per cpu s);"
            f" slowest {overall['slowest_genre']} {overall['slowest_x_realtime']:.1f}x"
            f" (target {report['target_x_realtime'][renderer]:.0f}x)"
        )
    return lines


def _request(station: Station, seed: int, seconds: float) -> GenerationRequest:
    return request_for(station, concrete_prompt(station, seed), seed, seconds)


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
