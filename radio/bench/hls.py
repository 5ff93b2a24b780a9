"""`radio bench hls`: what one HLS listener costs in bytes a minute, beside one MP3 listener.

Our server runs as its own process (synth, backlogs at target first). For the same
window, one client plays a station's HLS the way a player does (RFC 8216 6.3.4:
start three segments back from the live edge, reload the playlist every target
duration, fetch each new segment once) while another reads the MP3 mount. Bytes are
counted as they arrive: bodies, and the response headers as the server sent them.
Behind a CDN the origin's share per edge is one copy of each segment plus one
playlist a second (its max-age), whatever the number of listeners.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from aiohttp import ClientSession

from radio.bench.report import machine, output_option, save, stations_option
from radio.bench.serving import bench_lineup, free_port, running_radio
from radio.lineup.stations import load_stations


def _header_bytes(raw: tuple[tuple[bytes, bytes], ...]) -> int:
    """A response's header block on the wire, near enough: status line, fields, CRLFs."""
    return len("HTTP/1.1 200 OK\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in raw)


async def _play_hls(base: str, station: str, seconds: float) -> dict[str, Any]:
    url = f"{base}/hls/{station}/live.m3u8"
    counts = {"playlists": 0, "playlist_bytes": 0, "segments": 0, "segment_bytes": 0}
    headers = 0
    fetched: set[int] = set()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    async with ClientSession() as session:
        while loop.time() < end:
            async with session.get(url) as response:
                text = await response.text()
                headers += _header_bytes(response.raw_headers)
                # What crossed the wire: gzipped where the server compressed it.
                wire = int(response.headers.get("Content-Length", len(text.encode())))
            counts["playlists"] += 1
            counts["playlist_bytes"] += wire
            sequences = [int(s) for s in re.findall(r"(?m)^(\d+)\.ts$", text)]
            target = float(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)[1])  # type: ignore[index]
            wanted = sequences[-3:] if not fetched else [s for s in sequences if s > max(fetched)]
            for sequence in wanted:
                async with session.get(f"{base}/hls/{station}/{sequence}.ts") as response:
                    body = await response.read()
                    headers += _header_bytes(response.raw_headers)
                fetched.add(sequence)
                counts["segments"] += 1
                counts["segment_bytes"] += len(body)
            await asyncio.sleep(max(0.0, min(target, end - loop.time())))
    counts["header_bytes"] = headers
    counts["total_bytes"] = counts["playlist_bytes"] + counts["segment_bytes"] + headers
    return counts


async def _read_mp3(base: str, station: str, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    total = 0
    async with ClientSession() as session, session.get(f"{base}/stream/{station}.mp3") as response:
        total += _header_bytes(response.raw_headers)
        end = loop.time() + seconds
        while loop.time() < end:
            total += len(await asyncio.wait_for(response.content.readany(), timeout=10))
    return {"total_bytes": total}


@click.command("hls")
@click.option("--seconds", type=float, default=120.0, show_default=True, help="Measured window.")
@stations_option()
@click.option("--backlog-minutes", type=float, default=0.5, show_default=True)
@output_option("hls")
def hls_command(seconds: float, stations_path: Path, backlog_minutes: float, output: Path) -> None:
    """Bytes a minute to one HLS listener and to one MP3 listener, in the same window."""
    lineup = load_stations(stations_path)
    station = lineup.enabled[0]
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        lineup_path = bench_lineup(stations_path, Path(folder), backlog_minutes)
        with running_radio(lineup_path, Path(folder), port):
            base = f"http://127.0.0.1:{port}"
            time.sleep(3 * 2.7)  # a few segments in the window, so the player starts as one does

            async def both() -> list[dict[str, Any]]:
                return list(
                    await asyncio.gather(
                        _play_hls(base, station.id, seconds), _read_mp3(base, station.id, seconds)
                    )
                )

            hls, mp3 = asyncio.run(both())
    per_minute = 60.0 / seconds
    result: dict[str, Any] = {
        "benchmark": "hls",
        "station": station.id,
        "bitrate": station.bitrate,
        "seconds": seconds,
        "hls": hls,
        "mp3": mp3,
        "hls_bytes_per_minute": round(hls["total_bytes"] * per_minute),
        "mp3_bytes_per_minute": round(mp3["total_bytes"] * per_minute),
        "hls_over_mp3": round(hls["total_bytes"] / mp3["total_bytes"], 3),
        "load_average": os.getloadavg(),
        "machine": machine(),
    }
    save(result, output, [json.dumps(result, indent=2)])
