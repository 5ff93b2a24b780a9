"""A lineup in, each station's mount as a listener heard it out: ICY titles and decoded audio.

Runs our server (synth) as its own process on a short lineup, waits for every
station to be on air with its backlog at target, records every mount at once
with `Icy-MetaData: 1`, and decodes each recording with ffmpeg, as a player would.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomlkit

from radio.audio import PLAYOUT_RATE, Samples


@dataclass(frozen=True)
class Recording:
    station: str
    byte_rate: int  # audio bytes per second of the mount (CBR)
    audio: bytes  # the MP3 with the metadata blocks taken out
    titles: list[tuple[int, str]]  # (audio byte, StreamTitle) for each block that set one
    pcm: Samples  # ffmpeg's decoding of `audio`, 44.1 kHz stereo


def short_lineup(
    source: Path, folder: Path, count: int, track_seconds: float, crossfade: float | None
) -> tuple[Path, dict[str, int]]:
    """The first `count` stations of `source` with short tracks and a one-minute backlog;
    returns the file and each station's bitrate."""
    document = tomlkit.parse(source.read_text())
    defaults = document["defaults"]
    defaults["track_seconds"] = track_seconds
    defaults["backlog_minutes"] = 1.0
    if crossfade is not None:
        defaults["crossfade_seconds"] = crossfade
    kept = tomlkit.aot()
    for table in list(document["stations"])[:count]:
        for key in ("track_seconds", "backlog_minutes", "enabled"):
            table.pop(key, None)
        if crossfade is not None:
            table.pop("crossfade_seconds", None)
        kept.append(table)
    document["stations"] = kept
    path = folder / "stations.toml"
    path.write_text(tomlkit.dumps(document))
    bitrate = int(defaults.get("bitrate", 128))
    return path, {str(t["id"]): int(t.get("bitrate", bitrate)) for t in kept}


def split_icy(stream: bytes, metaint: int) -> tuple[bytes, list[tuple[int, str]]]:
    """Audio bytes, and (audio offset, title) for every metadata block that carries one."""
    audio, titles, pos = bytearray(), [], 0
    while pos < len(stream):
        chunk = stream[pos : pos + metaint]
        audio += chunk
        pos += len(chunk)
        if len(chunk) < metaint or pos >= len(stream):
            break
        size = stream[pos] * 16
        text = stream[pos + 1 : pos + 1 + size].rstrip(b"\0").decode(errors="replace")
        if size:
            titles.append((len(audio), text.removeprefix("StreamTitle='").removesuffix("';")))
        pos += 1 + size
    return bytes(audio), titles


def decode(mp3: bytes) -> Samples:
    command = ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0"]
    command += ["-f", "f32le", "-ac", "2", "-ar", str(PLAYOUT_RATE), "pipe:1"]
    out = subprocess.run(command, input=mp3, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32).reshape(-1, 2)


def record(port: int, station: str, seconds: float) -> tuple[bytes, int]:
    """Raw bytes of one ICY listener of `station` for `seconds`, and its metaint."""
    url = f"http://127.0.0.1:{port}/stream/{station}.mp3"
    request = urllib.request.Request(url, headers={"Icy-MetaData": "1"})
    data = bytearray()
    with urllib.request.urlopen(request, timeout=30) as response:
        metaint = int(response.headers["icy-metaint"])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            data += response.read1(65536)
    return bytes(data), metaint


def record_all(port: int, bitrates: dict[str, int], seconds: float) -> list[Recording]:
    """Every station's mount at once, for the same `seconds`."""
    raw: dict[str, tuple[bytes, int]] = {}

    def one(station: str) -> None:
        raw[station] = record(port, station, seconds)

    threads = [threading.Thread(target=one, args=(s,)) for s in bitrates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recordings = []
    for station, (stream, metaint) in raw.items():
        audio, titles = split_icy(stream, metaint)
        recordings.append(Recording(station, bitrates[station] * 125, audio, titles, decode(audio)))
    return recordings
