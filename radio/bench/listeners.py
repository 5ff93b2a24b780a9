"""`radio bench listeners`: a real server, N loopback listeners, delivered rate, stalls and CPU.

The server runs as its own process (so its CPU time can be read from /proc) with
the synth generator; the listeners are raw asyncio sockets in this process, which
read as fast as bytes arrive, as real players do once their buffer is full.

The server also generates music all along, so its CPU is measured twice in one run:
once with no listeners (after every backlog has reached its target) and once with N.
The difference is what the listeners cost.
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
import tomlkit

from radio.bench.report import machine, save
from radio.lineup.stations import load_stations

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
    port: int, pid: int, stations: list[str], count: int, warmup: float, seconds: float
) -> tuple[list[Probe], float, float]:
    """Connect the listeners; returns them with the server's and our CPU share in the window."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    window = (start + warmup, start + warmup + seconds)
    probes = [Probe(stations[n % len(stations)]) for n in range(count)]
    tasks = [asyncio.create_task(_listen(port, p, window, window[1])) for p in probes]
    await asyncio.sleep(warmup)
    server_before, ours_before = _cpu_seconds(pid), time.process_time()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    server = (_cpu_seconds(pid) - server_before) / seconds
    ours = (time.process_time() - ours_before) / seconds
    for probe, result in zip(probes, results, strict=True):
        if isinstance(result, BaseException):
            probe.closed_early = True
    return probes, server, ours


def _wait_ready(port: int, timeout: float = 600.0) -> None:
    """Until every station is on air with its backlog at target: generation at steady state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/api/stations"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            stations = json.load(response)["stations"]
            if all(
                s["now_playing"] and s["backlog_seconds"] >= 0.9 * s["backlog_target_seconds"]
                for s in stations
            ):
                return
        time.sleep(1.0)
    raise click.ClickException("the server's backlogs did not reach their target in time")


def _bench_lineup(source: Path, folder: Path, backlog_minutes: float) -> Path:
    """A copy of the stations file with a short backlog target, so set-up takes seconds."""
    document = tomlkit.parse(source.read_text())
    document["defaults"]["backlog_minutes"] = backlog_minutes
    for table in document["stations"]:
        table.pop("backlog_minutes", None)
    path = folder / "stations.toml"
    path.write_text(tomlkit.dumps(document))
    return path


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
    "--backlog-minutes",
    type=float,
    default=1.0,
    show_default=True,
    help="Backlog target for the run, so set-up is quick; generation goes on during it.",
)
@click.option(
    "--output", type=click.Path(path_type=Path), default=Path("cache/bench/listeners.json")
)
def listeners_command(
    count: int,
    seconds: float,
    warmup: float,
    stations_path: Path,
    backlog_minutes: float,
    output: Path,
) -> None:
    """Attach N loopback listeners to a fresh server; report rate per listener, stalls and CPU."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 256)), hard))
    lineup = load_stations(stations_path)
    stations = [s.id for s in lineup.enabled]
    bitrates = {s.id: s.bitrate for s in lineup.enabled}
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        lineup_path = _bench_lineup(stations_path, Path(folder), backlog_minutes)
        command = [sys.executable, "-m", "radio", "serve", "--port", str(port)]
        command += ["--stations", str(lineup_path), "--cache", folder, "--generator", "synth"]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port)
            idle_before = _cpu_seconds(server.pid)
            time.sleep(seconds)
            idle_cpu = (_cpu_seconds(server.pid) - idle_before) / seconds
            probes, server_cpu, client_cpu = asyncio.run(
                _run_listeners(port, server.pid, stations, count, warmup, seconds)
            )
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
        "server_cpu_percent_of_one_core": {
            "no_listeners": round(idle_cpu * 100, 1),
            "with_listeners": round(server_cpu * 100, 1),
            "per_100_listeners": round((server_cpu - idle_cpu) * 100 * 100 / count, 2),
        },
        "client_cpu_percent_of_one_core": round(client_cpu * 100, 1),
        "machine": machine(),
    }
    save(result, output)
