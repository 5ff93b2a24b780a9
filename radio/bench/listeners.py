"""`radio bench listeners`: a real server, N loopback listeners, delivered rate, stalls and CPU.

The server runs as its own process (so its CPU time can be read from /proc) with
the synth generator; the listeners are raw asyncio sockets in this process, which
read as fast as bytes arrive, as real players do once their buffer is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from radio.bench.report import machine, save
from radio.stations import load_stations

STALL_SECONDS = 1.0  # a gap this long between reads would empty a small player buffer


@dataclass
class Probe:
    station: str
    bytes_in_window: int = 0
    reads: list[float] = field(default_factory=list)
    closed_early: bool = False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _listen(port: int, probe: Probe, window: tuple[float, float], stop: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /stream/{probe.station}.mp3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    loop = asyncio.get_running_loop()
    try:
        while (now := loop.time()) < stop:
            data = await asyncio.wait_for(reader.read(65536), timeout=stop - now)
            if not data:
                probe.closed_early = True
                return
            now = loop.time()
            if window[0] <= now < window[1]:
                probe.bytes_in_window += len(data)
                probe.reads.append(now)
    except TimeoutError:
        pass
    finally:
        writer.close()


async def _run_listeners(
    port: int, stations: list[str], count: int, warmup: float, seconds: float
) -> list[Probe]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    window = (start + warmup, start + warmup + seconds)
    probes = [Probe(stations[n % len(stations)]) for n in range(count)]
    tasks = [asyncio.create_task(_listen(port, p, window, window[1])) for p in probes]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for probe, result in zip(probes, results, strict=True):
        if isinstance(result, BaseException):
            probe.closed_early = True
    return probes


def _wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/api/stations"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if all(s["now_playing"] for s in json.load(response)["stations"]):
                return
        time.sleep(0.5)
    raise click.ClickException("server did not put every station on air in time")


@click.command("listeners")
@click.option(
    "--listeners", "count", type=click.IntRange(1, 20000), default=1000, show_default=True
)
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Measured window.")
@click.option(
    "--warmup",
    type=float,
    default=5.0,
    show_default=True,
    help="Burst and connect time, not measured.",
)
@click.option(
    "--stations", "stations_path", type=click.Path(path_type=Path), default=Path("stations.toml")
)
@click.option(
    "--output", type=click.Path(path_type=Path), default=Path("cache/bench/listeners.json")
)
def listeners_command(
    count: int, seconds: float, warmup: float, stations_path: Path, output: Path
) -> None:
    """Attach N loopback listeners to a fresh server; report rate per listener, stalls and CPU."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 256)), hard))
    lineup = load_stations(stations_path)
    stations = [s.id for s in lineup.enabled]
    bitrates = {s.id: s.bitrate for s in lineup.enabled}
    port = _free_port()
    with tempfile.TemporaryDirectory() as cache:
        command = [
            sys.executable,
            "-m",
            "radio",
            "serve",
            "--port",
            str(port),
            "--stations",
            str(stations_path),
            "--cache",
            cache,
            "--generator",
            "synth",
        ]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port)
            cpu_before, wall_before = _cpu_seconds(server.pid), time.monotonic()
            client_before = time.process_time()
            probes = asyncio.run(_run_listeners(port, stations, count, warmup, seconds))
            wall = time.monotonic() - wall_before
            server_cpu = (_cpu_seconds(server.pid) - cpu_before) / wall
            client_cpu = (time.process_time() - client_before) / wall
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratios = [p.bytes_in_window / seconds / (bitrates[p.station] * 125) for p in probes]
    stalls = sum(
        1
        for p in probes
        for a, b in zip(p.reads, p.reads[1:], strict=False)
        if b - a > STALL_SECONDS
    )
    result: dict[str, Any] = {
        "benchmark": "listeners",
        "listeners": count,
        "stations": len(stations),
        "seconds": seconds,
        "delivered_rate_vs_bitrate": {
            "min": round(min(ratios), 3),
            "p5": round(sorted(ratios)[len(ratios) // 20], 3),
            "median": round(statistics.median(ratios), 3),
            "max": round(max(ratios), 3),
        },
        "stalls_over_1s": stalls,
        "disconnected_early": sum(p.closed_early for p in probes),
        "server_cpu_percent_of_one_core": round(server_cpu * 100, 1),
        "client_cpu_percent_of_one_core": round(client_cpu * 100, 1),
        "machine": machine(),
    }
    save(result, output)
