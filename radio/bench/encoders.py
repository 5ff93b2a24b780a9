"""`radio bench encoders`: a length of audio in, each format's encoder CPU per station out (JSON).

Every station runs one encoder per format on its worker thread, a quarter second
at a time, so that is how each is fed here: the same audio (a tone over noise,
harder to code than most music) in CHUNK_SECONDS pieces, with a track start
every `--track-seconds` (for Opus a new chain: a new container and encoder). The
formats take turns, a few seconds each, so a box whose load changes during the
run charges them alike. CPU is the process's own, so other work on the machine
does not count; the load average is saved beside it all the same.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from radio.audio import PLAYOUT_RATE, Samples
from radio.bench.report import machine, output_option, save, stations_option
from radio.encoder import Mp3Encoder
from radio.lineup.stations import load_stations
from radio.opus import OpusEncoder, StreamTags
from radio.playout import CHUNK_SECONDS

TURN_SECONDS = 5.0  # of audio per format per turn

Encode = Callable[[Samples, list[int]], object]


@click.command("encoders")
@click.option(
    "--seconds",
    type=click.FloatRange(1.0, 3600.0),
    default=60.0,
    show_default=True,
    help="Audio encoded per format.",
)
@click.option("--track-seconds", type=click.FloatRange(1.0), default=90.0, show_default=True)
@stations_option("For the station count and the bitrates.")
@output_option("encoders")
def encoders_command(
    seconds: float, track_seconds: float, stations_path: Path, output: Path
) -> None:
    """Each format's encoder: percent of one core per station, and for the whole lineup."""
    lineup = load_stations(stations_path)
    first = lineup.enabled[0]
    result = run_benchmark(seconds, track_seconds, first.bitrate, first.opus_bitrate)
    stations = len(lineup.enabled)
    for figures in result["formats"].values():
        figures["lineup_percent_of_a_core"] = round(figures["percent_of_a_core"] * stations, 1)
    result.update(stations=stations, load_average=os.getloadavg(), machine=machine())
    save(result, output, table(result))


def run_benchmark(
    seconds: float,
    track_seconds: float,
    mp3_kbps: int,
    opus_kbps: int,
    audio: Samples | None = None,
) -> dict[str, Any]:
    """`audio` is what the encoders are fed, a turn's length at a time, from its start
    again when it runs out (the stations' own tracks, say); a tone over noise if None."""
    source = _test_audio(TURN_SECONDS) if audio is None else audio
    turn = min(len(source), int(TURN_SECONDS * PLAYOUT_RATE))
    offset = 0
    mp3: Mp3Encoder[int] = Mp3Encoder(mp3_kbps)
    opus = OpusEncoder(opus_kbps)

    def encode_mp3(samples: Samples, starts: list[int]) -> object:
        return mp3.encode(samples, [(i, i) for i in starts])

    def encode_opus(samples: Samples, starts: list[int]) -> object:
        tags = StreamTags("A track", "A station")
        return opus.encode(samples, [(i, tags) for i in starts])

    encoders: dict[str, Encode] = {"mp3": encode_mp3, "opus": encode_opus}
    cpu = dict.fromkeys(encoders, 0.0)
    fed = dict.fromkeys(encoders, 0)
    step = int(CHUNK_SECONDS * PLAYOUT_RATE)
    track_frames = int(track_seconds * PLAYOUT_RATE)
    while min(fed.values()) < seconds * PLAYOUT_RATE:
        audio = np.take(source, np.arange(offset, offset + turn), axis=0, mode="wrap")
        offset = (offset + turn) % len(source)
        for name, encode in encoders.items():
            start = time.process_time()
            for pos in range(0, len(audio), step):
                chunk = audio[pos : pos + step]
                # The track starts (multiples of track_frames) that fall in this chunk.
                next_start = -(-fed[name] // track_frames) * track_frames
                encode(chunk, list(range(next_start - fed[name], len(chunk), track_frames)))
                fed[name] += len(chunk)
            cpu[name] += time.process_time() - start
    formats = {}
    for name, kbps in (("mp3", mp3_kbps), ("opus", opus_kbps)):
        audio_seconds = fed[name] / PLAYOUT_RATE
        formats[name] = {
            "kbps": kbps,
            "audio_seconds": round(audio_seconds, 1),
            "cpu_seconds": round(cpu[name], 3),
            "percent_of_a_core": round(cpu[name] / audio_seconds * 100, 2),
            "times_real_time": round(audio_seconds / cpu[name], 1),
        }
    return {"benchmark": "encoders", "track_seconds": track_seconds, "formats": formats}


def _test_audio(seconds: float) -> Samples:
    rng = np.random.default_rng(1)
    frames = int(seconds * PLAYOUT_RATE)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(frames) / PLAYOUT_RATE)
    noise = 0.1 * rng.standard_normal((frames, 2))
    return (tone[:, None] + noise).astype(np.float32)


def table(result: dict[str, Any]) -> list[str]:
    lines = [f"{'format':<8}{'kbps':>6}{'% core/station':>16}{'x real time':>13}{'lineup %':>10}"]
    for name, f in result["formats"].items():
        lines.append(
            f"{name:<8}{f['kbps']:>6}{f['percent_of_a_core']:>16}"
            f"{f['times_real_time']:>13}{f['lineup_percent_of_a_core']:>10}"
        )
    lines.append(f"{result['stations']} stations; load average {result['load_average']}")
    return lines
