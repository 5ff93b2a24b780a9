"""`radio bench listeners`: N loopback listeners on one mount of ours and, with
--against-icecast, of Debian's icecast2 in the same run; CPU, RSS, delivery, first audio.

Our server runs as its own process with the synth generator and is measured once
every backlog has reached its target. Fifteen real-time stations keep the synth
busy even then (each track played is one to make), so its CPU for generating and
preparing, that of the server's worker processes over the same window, is reported
apart and left out of the delivery figures and ratios: delivery is the server's own
process. (Read from /metrics instead, it came in whole calls as they ended, and a
window could hold more generation than the whole server spent in it.) Then, for each
N, the listeners attach to our mount and to Icecast's in turn, and each server's CPU
(from /proc) is read over the same length of window. The floor our idle cost is held
against is measured in the same run: every station's encoders (MP3 and Ogg Opus, as
`radio bench encoders` feeds them) encoding a stretch of each station's own cached music.
The Opus mounts are encoded on demand, so an idle server's is the MP3 floor
(`idle_vs_mp3_encoder_floor`).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click
import numpy as np
import soundfile

from radio.audio import PLAYOUT_RATE, Samples
from radio.bench import encoders
from radio.bench.clients import Delivery, first_audio, listen
from radio.bench.icecast import MOUNT, running_icecast
from radio.bench.report import machine, output_option, save, stations_option
from radio.bench.serving import (
    bench_lineup,
    cpu_percent,
    cpu_seconds,
    free_port,
    no_generation,
    rss_mb,
    running_radio,
    split,
    workers_cpu_seconds,
    workers_rss_mb,
)
from radio.lineup.stations import StationsConfig, load_stations

KEPT_UP_RATE = 0.95  # of the bitrate, over the window
KEPT_UP_GAP = 1.0  # seconds: a longer gap would empty a small player buffer
FLOOR_CLIP_SECONDS = 8.0  # of each station's music, for the encoder floor
WARMUP_SECONDS = 3.0  # after the last connect: bursts sent, reads settled
# Fresh listeners timed to their first byte at each N, spread over the window: a chunk's
# fan-out holds the loop a few ms a slice, so one probe in ten or so lands behind one, and
# a maximum over a handful says little. Each reads its burst for PROBE_SECONDS, so all of
# them fit in the default 10 s window.
PROBES = 16
FIRST_BYTE_GOAL_MS = 50.0  # issue #8


def _encoder_floor(lineup: StationsConfig, cache: Path) -> dict[str, float]:
    """Percent of a core the lineup's encoders alone take for real-time audio, by format:
    one MP3 and one Opus encoder per station, fed as `radio bench encoders` feeds them,
    with the stations' own music. (LAME spent 1.7-2.0 % of a core on a station's
    tracks against 1.5 % on the tone over noise that bench uses: a floor measured on
    that made the idle server look 20-30 % dearer against it than it is.)"""
    first = lineup.enabled[0]
    audio = station_audio(lineup, cache)
    seconds = max(10.0, len(audio) / PLAYOUT_RATE) if audio is not None else 10.0
    formats = encoders.run_benchmark(seconds, 90.0, first.bitrate, first.opus_bitrate, audio)[
        "formats"
    ]
    return {
        name: round(f["percent_of_a_core"] * len(lineup.enabled), 1) for name, f in formats.items()
    }


def station_audio(lineup: StationsConfig, cache: Path) -> Samples | None:
    """FLOOR_CLIP_SECONDS from the middle of one cached track of each station, one after
    another; None before any station has a track."""
    clips = []
    frames = int(FLOOR_CLIP_SECONDS * PLAYOUT_RATE)
    for station in lineup.enabled:
        track = next(iter(sorted((cache / station.id).glob("*.flac"))), None)
        if track is None:
            continue
        with soundfile.SoundFile(track) as file:
            file.seek(max(0, (file.frames - frames) // 2))
            clips.append(file.read(frames, dtype="float32", always_2d=True))
    return np.concatenate(clips) if clips else None


def measure(
    pid: int,
    port: int,
    path: str,
    count: int,
    seconds: float,
    processes: int,
    bitrate: int,
    generation: Callable[[], float] = no_generation,
) -> dict[str, Any]:
    """Attach `count` listeners, then read CPU, RSS, delivery and first audio in a window."""
    with listen(port, path, count, processes) as crowd:
        start, connected = crowd.start(WARMUP_SECONDS, seconds)
        time.sleep(max(0.0, start - time.monotonic()))
        cpu_before, made = cpu_seconds(pid), generation()
        probes = []
        for n in range(PROBES):  # at any point of the publish cycle, not in one run
            time.sleep(max(0.0, start + n * seconds / PROBES - time.monotonic()))
            probes.append(first_audio(port, path))
        time.sleep(max(0.0, start + seconds - time.monotonic()))
        cpu = split(cpu_seconds(pid) - cpu_before, generation() - made, seconds)
        rss, workers_rss = rss_mb(pid), workers_rss_mb(pid)
        deliveries = crowd.collect()
    time.sleep(2.0)  # let the server see every listener go before the next step
    return {
        **cpu,
        "rss_mb": rss,
        "workers_rss_mb": workers_rss,  # generation and preparation, in processes of their own
        "kept_up": sum(_kept_up(d, seconds, bitrate) for d in deliveries),
        "listeners": len(deliveries),
        "connected": connected,
        "min_rate_vs_bitrate": round(min(rate(d, seconds, bitrate) for d in deliveries), 3),
        "longest_gap_s": round(max(d.longest_gap for d in deliveries), 2),
        # A gap as long as this is the client process's own (descheduled), not the server's.
        "longest_client_stall_s": round(max(d.client_stall for d in deliveries), 2),
        **_first_bytes([p.first_byte_ms for p in probes]),
        "burst_seconds_min": round(min(p.burst_bytes for p in probes) / (bitrate * 125), 2),
        "burst_on_frame": sum(p.on_frame for p in probes),
        "probes": len(probes),
    }


def _first_bytes(ms: list[float]) -> dict[str, float]:
    return {
        "first_byte_ms_max": max(ms),
        "first_byte_ms_p90": statistics.quantiles(ms, n=10, method="inclusive")[-1],
        "first_byte_ms_median": statistics.median(ms),
        "first_byte_over_goal": sum(one > FIRST_BYTE_GOAL_MS for one in ms),
    }


def rate(delivery: Delivery, seconds: float, bitrate: int) -> float:
    return delivery.window_bytes / seconds / (bitrate * 125)


def _kept_up(delivery: Delivery, seconds: float, bitrate: int) -> bool:
    return (
        not delivery.closed
        and rate(delivery, seconds, bitrate) >= KEPT_UP_RATE
        and delivery.longest_gap <= KEPT_UP_GAP
    )


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 2) if theirs > 0 else None


def table(result: dict[str, Any]) -> list[str]:
    """The README's table: N, our CPU (whole, and delivery: the server's process),
    Icecast's, the ratio (delivery), kept up, RSS and the first byte."""
    lines = [
        "| N | ours % core, whole (delivery) | Icecast % core | ratio (delivery)"
        " | kept up (ours / Icecast) | RSS MB: server (+ workers) / Icecast"
        " | first byte ms, p90 / max (ours; Icecast) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["runs"]:
        ours, ice = row["ours"], row.get("icecast")
        delivery = ours["delivery_cpu_percent"]
        lines.append(
            f"| {row['listeners']} | {ours['cpu_percent']} ({delivery})"
            f" | {ice['cpu_percent'] if ice else '-'}"
            f" | {_ratio(delivery, ice['cpu_percent']) if ice else '-'}"
            f" | {ours['kept_up']} / {ice['kept_up'] if ice else '-'}"
            f" | {ours['rss_mb']} (+ {ours.get('workers_rss_mb', 0.0)})"
            f" / {ice['rss_mb'] if ice else '-'}"
            f" | {_first_byte(ours)}; {_first_byte(ice) if ice else '-'} |"
        )
    return lines


def _first_byte(figures: dict[str, Any]) -> str:
    return f"{figures['first_byte_ms_p90']} / {figures['first_byte_ms_max']}"


@click.command("listeners")
@click.option("--counts", default="1000,4000,8000", show_default=True, help="Listener counts.")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Measured window.")
@click.option(
    "--idle-seconds",
    type=float,
    default=90.0,
    show_default=True,
    help="Window for the idle cost: a track's length holds each station's crossfade once.",
)
@click.option("--against-icecast", is_flag=True, help="Measure Debian's icecast2 in the same run.")
@click.option("--processes", type=int, default=4, show_default=True, help="Client processes.")
@stations_option()
@click.option("--backlog-minutes", type=float, default=1.0, show_default=True)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep our backlogs in this folder between runs (default: a fresh one, filled first).",
)
@output_option("listeners")
def listeners_command(
    counts: str,
    seconds: float,
    idle_seconds: float,
    against_icecast: bool,
    processes: int,
    stations_path: Path,
    backlog_minutes: float,
    cache: Path | None,
    output: Path,
) -> None:
    """Attach N loopback listeners to one mount; CPU, RSS and delivery, beside Icecast's."""
    sizes = [int(n) for n in counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, max(sizes) * 2 + 1024)), hard))
    lineup = load_stations(stations_path)
    first = lineup.enabled[0]
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        # Long backlogs take many minutes to fill from nothing; a kept cache restores
        # them from its catalog at start, so only what played since is generated.
        folder = cache or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        ours_port, ice_port = free_port(), free_port()
        lineup_path = bench_lineup(stations_path, folder, backlog_minutes)
        ours = stack.enter_context(running_radio(lineup_path, folder, ours_port))
        floors = _encoder_floor(lineup, folder)  # on the music the stations now play
        floor = round(sum(floors.values()), 1)
        ours_generation = partial(workers_cpu_seconds, ours)
        mount = f"/stream/{first.id}.mp3"
        servers: dict[str, Callable[[int], dict[str, Any]]] = {
            "ours": lambda n: measure(
                ours, ours_port, mount, n, seconds, processes, first.bitrate, ours_generation
            )
        }
        # Stations started together crossfade together, a track's length apart: a short
        # window holds all fifteen blends or none of them.
        idle = {"ours": cpu_percent(ours, idle_seconds, ours_generation)}
        rss_idle = {"ours": rss_mb(ours), "ours_workers": workers_rss_mb(ours)}
        if against_icecast:
            ice = stack.enter_context(running_icecast(ice_port, first.bitrate, max(sizes) + 100))
            servers["icecast"] = lambda n: measure(
                ice, ice_port, MOUNT, n, seconds, processes, first.bitrate
            )
            idle["icecast"] = cpu_percent(ice, idle_seconds)
            rss_idle["icecast"] = rss_mb(ice)
        runs: list[dict[str, Any]] = []
        for n in sizes:
            runs.append({"listeners": n})
            for name, run in servers.items():
                click.echo(f"{name}: {n} listeners", err=True)
                runs[-1][name] = run(n)
                save({"partial": runs}, output, [])  # a long run keeps what it measured
    result: dict[str, Any] = {
        "benchmark": "listeners",
        "stations": len(lineup.enabled),
        "backlog_minutes": backlog_minutes,
        "seconds": seconds,
        "idle_seconds": idle_seconds,
        "encoder_floor_percent": floor,  # every encoder of every station
        "encoder_floor_by_format": floors,
        "idle_percent": idle,
        # Without the generation, which no peer does (see workers_cpu_seconds).
        "idle_vs_encoder_floor": _ratio(idle["ours"]["delivery_cpu_percent"], floor),
        "idle_vs_mp3_encoder_floor": _ratio(idle["ours"]["delivery_cpu_percent"], floors["mp3"]),
        "idle_rss_mb": rss_idle,
        "runs": runs,
        "per_1000_between": _per_1000(runs, sizes),
        "load_average": os.getloadavg(),
        "machine": machine(),
    }
    save(result, output, [json.dumps(result, indent=2), *table(result)])


def _per_1000(runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """Each extra 1,000 listeners' CPU between the two smallest counts, and the ratio."""
    if len(sizes) < 2:
        return {}
    low, high = runs[0], runs[1]
    span = (sizes[1] - sizes[0]) / 1000
    per = {
        name: round(
            (high[name]["delivery_cpu_percent"] - low[name]["delivery_cpu_percent"]) / span, 1
        )
        for name in low
        if name != "listeners"
    }
    if "icecast" in per:
        per["ratio"] = _ratio(per["ours"], per["icecast"])
    return per
