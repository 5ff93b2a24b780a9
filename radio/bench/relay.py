"""`radio bench relay`: what growing past one machine through Icecast costs the origin.

Our server runs every station of the lineup with the synth generator and pushes
each one to a Debian icecast2 as its source (one source per station), in one run:
the origin's CPU with those sources and no listeners, with N listeners attached
to our own mount directly, and with the same N on Icecast's copy of that mount
instead (where the fan-out is Icecast's). Delivery figures are kept for each.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import click
import tomlkit

from radio.bench.icecast import PASSWORD, IcecastServer
from radio.bench.listeners import measure
from radio.bench.report import machine, output_option, save, stations_option
from radio.bench.serving import (
    bench_lineup,
    cpu_percent,
    free_port,
    rss_mb,
    running_radio,
    workers_cpu_seconds,
)
from radio.lineup.stations import load_stations

PASSWORD_ENV = "RADIO_BENCH_ICECAST_PASSWORD"


def _with_icecast(path: Path, port: int, track_seconds: float) -> None:
    """The bench's lineup pushed to Icecast, with short tracks so backlogs fill soon."""
    document = tomlkit.parse(path.read_text())
    defaults = document["defaults"]
    defaults["track_seconds"] = track_seconds
    defaults["crossfade_seconds"] = min(
        float(defaults.get("crossfade_seconds", 3.0)), track_seconds / 2
    )
    for station in document["stations"]:
        station.pop("track_seconds", None)
        station.pop("crossfade_seconds", None)
    table = tomlkit.table()
    table.update({"enabled": True, "port": port, "password_env": PASSWORD_ENV})
    document["icecast"] = table
    path.write_text(tomlkit.dumps(document))


def _mounts_up(port: int, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/status-json.xsl"
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=5) as r:
            sources = json.load(r)["icestats"].get("source", [])
            if len(sources if isinstance(sources, list) else [sources]) >= count:
                return
        time.sleep(0.5)
    raise click.ClickException("not every station reached Icecast in time")


@click.command("relay")
@click.option("--listeners", "count", type=int, default=1000, show_default=True)
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Measured window.")
@click.option("--processes", type=int, default=4, show_default=True, help="Client processes.")
@stations_option()
@click.option("--backlog-minutes", type=float, default=0.5, show_default=True)
@click.option("--track-seconds", type=float, default=20.0, show_default=True)
@output_option("relay")
def relay_command(
    count: int,
    seconds: float,
    processes: int,
    stations_path: Path,
    backlog_minutes: float,
    track_seconds: float,
    output: Path,
) -> None:
    """Origin CPU with one Icecast source per station, against N direct listeners."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 1024)), hard))
    lineup = load_stations(stations_path)
    first = lineup.enabled[0]
    os.environ[PASSWORD_ENV] = PASSWORD  # our server reads it; it is never in the file
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        folder = Path(name)
        folder.chmod(0o755)  # Icecast runs as nobody and writes its logs under here
        ice_port, ours_port = free_port(), free_port()
        icecast = IcecastServer(
            folder / "icecast", ice_port, clients=count + 100, sources=len(lineup.enabled) + 2
        )
        icecast.start()
        stack.callback(icecast.stop)
        lineup_path = bench_lineup(stations_path, folder, backlog_minutes)
        _with_icecast(lineup_path, ice_port, track_seconds)
        ours = stack.enter_context(running_radio(lineup_path, folder, ours_port))
        _mounts_up(ice_port, len(lineup.enabled))
        click.echo("origin with its Icecast sources, no listeners", err=True)
        generation = partial(workers_cpu_seconds, ours)  # the synth never rests
        sources_only = cpu_percent(ours, seconds, generation)
        rss = rss_mb(ours)
        click.echo(f"{count} listeners on our own mount", err=True)
        ours_path = f"/stream/{first.id}.mp3"
        direct = measure(
            ours, ours_port, ours_path, count, seconds, processes, first.bitrate, generation
        )
        click.echo(f"{count} listeners on Icecast's copy", err=True)
        ice_path = f"/{first.id}.mp3"
        relayed = measure(
            ours, ice_port, ice_path, count, seconds, processes, first.bitrate, generation
        )
        relayed["icecast_cpu_percent_after"] = cpu_percent(icecast.pid, 2.0)
    result: dict[str, Any] = {
        "benchmark": "relay",
        "stations": len(lineup.enabled),
        "icecast_sources": len(lineup.enabled),
        "listeners": count,
        "seconds": seconds,
        "origin_sources_only_percent": sources_only,
        "origin_sources_only_rss_mb": rss,
        "direct": direct,  # cpu_percent: the origin's, with N direct listeners
        "through_icecast": relayed,  # cpu_percent: the origin's, with N on Icecast
        "load_average": os.getloadavg(),
        "machine": machine(),
    }
    summary = [
        json.dumps(result, indent=2),
        "origin % core without generation:"
        f" sources only {sources_only['delivery_cpu_percent']},"
        f" {count} direct {direct['delivery_cpu_percent']} (kept up {direct['kept_up']}),"
        f" {count} via Icecast {relayed['delivery_cpu_percent']} (kept up {relayed['kept_up']})",
    ]
    save(result, output, summary)
