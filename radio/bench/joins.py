"""`radio bench joins`: N stations' mounts recorded for M minutes in, the sound of every
join out: loudness through it, true peak as heard, and when its ICY title arrived.

Each track's start is found in the decoded stream by matching its catalog FLAC
(a stretch just after the crossfade, where it plays alone) against the recording
around its title. Then, on the K-weighted momentary level (400 ms, every 100 ms):
- a join's window runs from 3 s before the track starts to 3 s after its crossfade
  ends; its reference is the median level of the 10 s on either side of that window;
- dip = the window's lowest level against the reference; below_6 = seconds of the
  window more than 6 LU under it; median = the window's median against it;
- "inside" is the same statistic on a window of the same width in mid-track, so the
  joins can be read against the music's own ups and downs.
Title delay = where the title's metadata block sits in the stream, less where the
track's audio begins (both in stream seconds; positive is late). The true peak is
per stretch between two starts, on the decoded stream (4x oversampled).
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
import soundfile
from scipy.signal import correlate

from radio.audio import PLAYOUT_RATE
from radio.audio.crossfade import blend
from radio.audio.meter import HOP_SECONDS, MOMENTARY_SECONDS, momentary_loudness, true_peak_dbtp
from radio.bench.capture import Recording, record_all, short_lineup
from radio.bench.report import machine, output_option, save, stations_option
from radio.bench.serving import free_port, running_radio, wait_on_air
from radio.generators.synth import SynthGenerator
from radio.lineup.stations import Station, load_stations
from radio.prepare import prepare_audio
from radio.scheduler import pending

EDGE = 3.0  # seconds of a join's window either side of the crossfade
OFFLINE_SEED = 500  # the first seed of --offline's tracks
REFERENCE = 10.0  # seconds of music either side of the window it is held against
PROBE = (0.25, 2.25)  # seconds after the crossfade ends: the FLAC stretch matched
MATCHED = 0.5  # a start is kept when the normalised correlation reaches this
Mono = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Start:
    title: str
    title_at: float  # stream seconds where the title's block is
    audio_at: float  # stream seconds where the track's first sample is heard
    match: float


def _mono(samples: npt.NDArray[np.float32]) -> Mono:
    return np.asarray(samples.mean(axis=1), dtype=np.float32)


def find_start(heard: Mono, track: Mono, guess: int, crossfade: int) -> tuple[int, float]:
    """Where `track` begins in `heard`, searched 2 s before to 0.5 s after `guess`."""
    skip = crossfade + int(PROBE[0] * PLAYOUT_RATE)
    probe = track[skip : crossfade + int(PROBE[1] * PLAYOUT_RATE)]
    lo = max(0, guess - 2 * PLAYOUT_RATE + skip)
    region = heard[lo : guess + PLAYOUT_RATE // 2 + skip + len(probe)]
    if len(probe) < PLAYOUT_RATE // 2 or len(region) <= len(probe):
        return 0, 0.0
    scores = correlate(region, probe, mode="valid", method="fft")
    power = np.concatenate([[0.0], np.cumsum(region.astype(np.float64) ** 2)])
    energy = power[len(probe) :] - power[: -len(probe)]
    scores = scores / np.sqrt(np.maximum(energy * float(probe @ probe), 1e-12))
    best = int(np.argmax(scores))
    return lo + best - skip, float(scores[best])


def tracks_by_title(cache: Path, station: str, prefix: str) -> dict[str, list[Path]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{cache / 'catalog.db'}?mode=ro", uri=True)
    ) as db:
        rows = db.execute("SELECT title, path FROM tracks WHERE station = ?", (station,))
        found: dict[str, list[Path]] = {}
        for title, path in rows:
            found.setdefault(f"{prefix} - {title}", []).append(cache / path)
    return found


def starts(recording: Recording, files: dict[str, list[Path]], crossfade: float) -> list[Start]:
    heard = _mono(recording.pcm)
    found = []
    for offset, title in recording.titles[1:]:  # the first block only names what was on
        title_at = offset / recording.byte_rate
        best = (0, 0.0)
        for path in files.get(title, []):
            track = _mono(soundfile.read(path, dtype="float32", always_2d=True)[0])
            guess = int(title_at * PLAYOUT_RATE)
            best = max(best, find_start(heard, track, guess, int(crossfade * PLAYOUT_RATE)),
                       key=lambda b: b[1])  # fmt: skip
        if best[1] >= MATCHED:
            found.append(Start(title, title_at, best[0] / PLAYOUT_RATE, best[1]))
    return found


def _window(levels: npt.NDArray[np.float64], start: float, end: float) -> npt.NDArray[np.float64]:
    """Levels of the blocks centred in [start, end) seconds."""
    centre = MOMENTARY_SECONDS / 2
    lo = max(0, int(np.ceil((start - centre) / HOP_SECONDS)))
    hi = max(0, int(np.ceil((end - centre) / HOP_SECONDS)))
    return levels[lo:hi]


def through(levels: npt.NDArray[np.float64], start: float, end: float) -> dict[str, float] | None:
    """The level statistics of [start, end) against the REFERENCE seconds around it."""
    window = _window(levels, start, end)
    around = np.concatenate(
        [_window(levels, start - REFERENCE, start), _window(levels, end, end + REFERENCE)]
    )
    if start - REFERENCE < 0 or len(around) < 2 * REFERENCE / HOP_SECONDS - 2 or not len(window):
        return None
    if (end + REFERENCE) / HOP_SECONDS > len(levels):
        return None
    reference = float(np.median(around))
    return {
        "dip_lu": round(float(window.min()) - reference, 2),
        "median_lu": round(float(np.median(window)) - reference, 2),
        "below_6_s": round(float((window < reference - 6).sum()) * HOP_SECONDS, 1),
    }


def analyse(recording: Recording, cache: Path, name: str, crossfade: float) -> dict[str, Any]:
    found = starts(recording, tracks_by_title(cache, recording.station, name), crossfade)
    levels = momentary_loudness(recording.pcm, PLAYOUT_RATE)
    joins, inside, peaks = [], [], []
    for index, start in enumerate(found):
        joined = through(levels, start.audio_at - EDGE, start.audio_at + crossfade + EDGE)
        if joined is not None:
            joins.append({"at_s": round(start.audio_at, 2), **joined})
        if index + 1 < len(found):
            end = found[index + 1].audio_at
            middle, half = (start.audio_at + end) / 2, EDGE + crossfade / 2
            if (mid := through(levels, middle - half, middle + half)) is not None:
                inside.append(mid)
            stretch = recording.pcm[int(start.audio_at * PLAYOUT_RATE) : int(end * PLAYOUT_RATE)]
            peaks.append(round(true_peak_dbtp(stretch), 2))
    return {
        "station": recording.station,
        "seconds": round(len(recording.pcm) / PLAYOUT_RATE, 1),
        "titles": len(recording.titles) - 1,
        "starts_found": len(found),
        "title_delays_s": [round(s.title_at - s.audio_at, 3) for s in found],
        "joins": joins,
        "inside": inside,
        "true_peaks_dbtp": peaks,
    }


def summary(stations: list[dict[str, Any]]) -> dict[str, Any]:
    joins = [j for s in stations for j in s["joins"]]
    inside = [j for s in stations for j in s["inside"]]
    delays = [d for s in stations for d in s["title_delays_s"]]
    peaks = [p for s in stations for p in s["true_peaks_dbtp"]]

    def median(rows: list[dict[str, float]], key: str) -> float | None:
        return _median([r[key] for r in rows])

    return {
        "joins": len(joins),
        "join_dip_median_lu": median(joins, "dip_lu"),
        "join_dip_worst_lu": min((j["dip_lu"] for j in joins), default=None),
        "join_median_level_lu": median(joins, "median_lu"),
        "join_below_6_median_s": median(joins, "below_6_s"),
        "join_below_6_max_s": max((j["below_6_s"] for j in joins), default=None),
        "inside_dip_median_lu": median(inside, "dip_lu"),
        "inside_dip_worst_lu": min((j["dip_lu"] for j in inside), default=None),
        "title_delay_median_s": round(statistics.median(delays), 3) if delays else None,
        "title_delay_range_s": [min(delays), max(delays)] if delays else None,
        "titles_within_0_25_s": sum(abs(d) <= 0.25 for d in delays),  # early or late
        "titles_timed": len(delays),
        "tracks_peaked": len(peaks),
        "true_peak_max_dbtp": max(peaks, default=None),
        "tracks_over_minus_1_dbtp": sum(p > -1.0 for p in peaks),
    }


def offline(
    stations: Sequence[Station], tracks: int, track_seconds: float, crossfade: float | None
) -> dict[str, Any]:
    """Each station's first `tracks` seeds generated, prepared and crossfaded as playout
    does, without a server or an encoder: the same joins on every run, so two versions
    of the code compare join for join (the stream's runs draw fresh seeds)."""
    synth = SynthGenerator()
    per_station: list[dict[str, Any]] = []
    for station in stations:
        fade = station.crossfade_seconds if crossfade is None else crossfade
        ends = [
            prepare_audio(synth.generate([pending(station, seed, track_seconds).request])[0])
            for seed in range(OFFLINE_SEED, OFFLINE_SEED + tracks)
        ]
        pcm = [end.pcm.astype(np.float32) / np.float32(32767) for end in ends]
        n = int(fade * PLAYOUT_RATE)
        dips: list[float] = []
        inside: list[float] = []  # the same window in the middle of the next track
        for a, b in itertools.pairwise(pcm):
            heard = np.concatenate(
                [a[: len(a) - n], blend(a[len(a) - n :], b[:n], PLAYOUT_RATE), b[n:]]
            )
            levels = momentary_loudness(heard, PLAYOUT_RATE)
            at = (len(a) - n) / PLAYOUT_RATE
            if (joined := through(levels, at - EDGE, at + fade + EDGE)) is not None:
                dips.append(joined["dip_lu"])
            middle, half = at + len(b) / PLAYOUT_RATE / 2, EDGE + fade / 2
            if (mid := through(levels, middle - half, middle + half)) is not None:
                inside.append(mid["dip_lu"])
        per_station.append(
            {
                "station": station.id,
                "dips_lu": dips,
                "dip_median_lu": _median(dips),
                "below_6": sum(d < -6 for d in dips),
                "inside_dips_lu": inside,
                "inside_dip_median_lu": _median(inside),
                "inside_below_6": sum(d < -6 for d in inside),
            }
        )
    every = [d for s in per_station for d in s["dips_lu"]]
    within = [d for s in per_station for d in s["inside_dips_lu"]]
    return {
        "joins": len(every),
        "below_6": sum(d < -6 for d in every),
        "dip_median_lu": _median(every),
        "dip_worst_lu": min(every, default=None),
        "inside": len(within),
        "inside_below_6": sum(d < -6 for d in within),
        "inside_dip_median_lu": _median(within),
        "inside_dip_worst_lu": min(within, default=None),
        "per_station": per_station,
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def offline_table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{s['station']}: median {s['dip_median_lu']} LU, below -6: {s['below_6']} "
        f"(mid-track: median {s['inside_dip_median_lu']}, below -6: {s['inside_below_6']})"
        for s in report["per_station"]
    ]
    lines.append(
        f"all: {report['below_6']} of {report['joins']} joins below -6 LU, median "
        f"{report['dip_median_lu']}, worst {report['dip_worst_lu']}; mid-track "
        f"{report['inside_below_6']} of {report['inside']}, median "
        f"{report['inside_dip_median_lu']}, worst {report['inside_dip_worst_lu']}"
    )
    return lines


@click.command("joins")
@stations_option()
@click.option("--count", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--minutes", type=click.FloatRange(0.5, 120), default=3.0, show_default=True)
@click.option("--track-seconds", type=click.FloatRange(20, 600), default=30.0, show_default=True)
@click.option("--crossfade-seconds", type=click.FloatRange(0, 12), default=None, help="Override.")
@click.option(
    "--offline",
    "offline_tracks",
    type=click.IntRange(2, 100),
    default=None,
    help="Instead of a server: this many tracks per station, the same seeds every run.",
)
@output_option("joins")
def joins_command(
    stations_path: Path,
    count: int,
    minutes: float,
    track_seconds: float,
    crossfade_seconds: float | None,
    offline_tracks: int | None,
    output: Path,
) -> None:
    """Loudness through joins, true peak as heard and ICY title timing, on the synth."""
    if offline_tracks is not None:
        first = load_stations(stations_path).enabled[:count]
        report = offline(first, offline_tracks, track_seconds, crossfade_seconds)
        save(
            {"bench": "joins", "offline": True, "machine": machine(), **report},
            output,
            offline_table(report),
        )
        return
    with tempfile.TemporaryDirectory(prefix="radio-joins-") as folder:
        lineup, bitrates = short_lineup(
            stations_path, Path(folder), count, track_seconds, crossfade_seconds
        )
        stations = {s.id: s for s in load_stations(lineup).stations}
        port = free_port()
        with running_radio(lineup, Path(folder), port, wait_on_air):
            recordings = record_all(port, bitrates, minutes * 60)
        results = [
            analyse(
                r, Path(folder), stations[r.station].name, stations[r.station].crossfade_seconds
            )
            for r in recordings
        ]
    result: dict[str, Any] = {
        "bench": "joins",
        "machine": machine(),
        "stations": count,
        "minutes": minutes,
        "track_seconds": track_seconds,
        "summary": summary(results),
        "per_station": results,
    }
    save(result, output, [f"{k}: {v}" for k, v in result["summary"].items()])
