"""`radio bench soak`: the whole lineup on air for many minutes with a few listeners on
every mount, as a long-running server lives: generation, preparation, catalog writes,
retention and playout all at once.

Per station: its listeners' rate against the bitrate and their longest gap between
reads that brought audio (with when it ended, so a gap can be placed against the
server's log), and the server's own view from /metrics: the worst playout lateness,
dead air and replays. Every warning and error the server logged is kept. A gap is
reported by station and time, never averaged away: issue #10's soak found one 2.0 s
gap among 60 listeners in 15 minutes (the server's: playout then awaited the catalog at
a track change, see the README). Beside it stands the client process's own longest
lapse past its poll (`client_stall_s`): every listener of a station shares one client
process here, so a gap that hits all of them at once and matches that lapse was the
client's, descheduled on a busy box, and not the server's.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from radio.bench.clients import Crowd, listen
from radio.bench.listeners import KEPT_UP_GAP, rate
from radio.bench.report import machine, output_option, save, stations_option
from radio.bench.serving import (
    bench_lineup,
    free_port,
    rss_mb,
    running_radio,
    scrape,
    wait_on_air,
    workers_rss_mb,
)
from radio.lineup.stations import load_stations

WARMUP_SECONDS = 5.0  # after the last connect: bursts drained, reads settled
STATION_METRICS = {
    "radio_playout_worst_lateness_seconds": "worst_lateness_s",
    "radio_dead_air_seconds": "dead_air_s",
    "radio_replays": "replays",
}


def _station_metrics(port: int) -> dict[str, dict[str, float]]:
    """The server's own figures per station, from /metrics."""
    out: dict[str, dict[str, float]] = {}
    for family in scrape(port):
        for sample in family.samples:
            key = STATION_METRICS.get(sample.name) or STATION_METRICS.get(family.name)
            if key and not sample.name.endswith("_created"):
                out.setdefault(sample.labels["station"], {})[key] = round(sample.value, 3)
    return out


def _logged(log: Path) -> list[str]:
    """The server's warnings and errors, in order."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line for line in lines if " WARNING " in line or " ERROR " in line]


def run_soak(
    stations_path: Path, minutes: float, listeners: int, backlog_minutes: float
) -> dict[str, Any]:
    """The soak itself; the report is what the JSON file holds."""
    seconds = minutes * 60.0
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        lineup_path = bench_lineup(stations_path, folder, backlog_minutes)
        lineup = load_stations(lineup_path)
        port, log = free_port(), folder / "server.log"
        with (
            running_radio(lineup_path, folder, port, ready=wait_on_air, log=log) as pid,
            contextlib.ExitStack() as stack,
        ):
            crowds: dict[str, Crowd] = {
                s.id: stack.enter_context(listen(port, f"/stream/{s.id}.mp3", listeners, 1))
                for s in lineup.enabled
            }
            starts = {sid: crowd.start(WARMUP_SECONDS, seconds)[0] for sid, crowd in crowds.items()}
            time.sleep(max(0.0, max(starts.values()) + seconds - time.monotonic()))
            server = _station_metrics(port)
            rss, workers_rss = rss_mb(pid), workers_rss_mb(pid)
            deliveries = {sid: crowd.collect() for sid, crowd in crowds.items()}
        logged = _logged(log)
    per_station: list[dict[str, Any]] = []
    for station in lineup.enabled:
        got = deliveries[station.id]
        worst = max(got, key=lambda d: d.longest_gap)
        per_station.append(
            {
                "station": station.id,
                "listeners": len(got),
                "min_rate_vs_bitrate": round(
                    min(rate(d, seconds, station.bitrate) for d in got), 3
                ),
                "longest_gap_s": round(worst.longest_gap, 2),
                "longest_gap_ended_at_s": round(worst.gap_ended, 1),
                # A gap about this long is the client process's own lapse, not the server's.
                "client_stall_s": round(max(d.client_stall for d in got), 2),
                "listeners_with_gap_over_1_s": sum(d.longest_gap > KEPT_UP_GAP for d in got),
                "dropped": sum(d.closed for d in got),
                **server.get(station.id, {}),
            }
        )
    return {
        "benchmark": "soak",
        "minutes": minutes,
        "stations": len(per_station),
        "listeners_per_mount": listeners,
        "backlog_minutes": backlog_minutes,
        "longest_gap_s": max(s["longest_gap_s"] for s in per_station),
        "longest_client_stall_s": max(s["client_stall_s"] for s in per_station),
        "gaps_over_1_s": sum(s["listeners_with_gap_over_1_s"] for s in per_station),
        "dead_air_s": sum(s.get("dead_air_s", 0.0) for s in per_station),
        "worst_lateness_s": max(s.get("worst_lateness_s", 0.0) for s in per_station),
        "dropped": sum(s["dropped"] for s in per_station),
        "rss_mb": rss,
        "workers_rss_mb": workers_rss,
        "warnings": logged,
        "per_station": per_station,
        "load_average": os.getloadavg(),
        "machine": machine(),
    }


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"soak: {report['stations']} stations x {report['listeners_per_mount']} listeners, "
        f"{report['minutes']:g} min; longest gap {report['longest_gap_s']} s, "
        f"{report['gaps_over_1_s']} listeners with a gap over {KEPT_UP_GAP:g} s, "
        f"worst lateness {report['worst_lateness_s']} s, dead air {report['dead_air_s']} s, "
        f"dropped {report['dropped']}, RSS {report['rss_mb']} MB"
        f" (worker processes {report.get('workers_rss_mb', 0.0)} MB)",
        f"{'station':<16} {'rate':>6} {'gap s':>6} {'at s':>7} {'client':>7} {'late s':>7}"
        f" {'replays':>7}",
    ]
    for s in report["per_station"]:
        lines.append(
            f"{s['station']:<16} {s['min_rate_vs_bitrate']:>6.3f} {s['longest_gap_s']:>6.2f} "
            f"{s['longest_gap_ended_at_s']:>7.1f} {s['client_stall_s']:>7.2f} "
            f"{s.get('worst_lateness_s', 0):>7.2f} {s.get('replays', 0):>7g}"
        )
    lines += [f"logged: {line}" for line in report["warnings"][:20]]
    return lines


@click.command("soak")
@stations_option()
@click.option("--minutes", type=click.FloatRange(0.5, 24 * 60), default=15.0, show_default=True)
@click.option("--listeners", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--backlog-minutes", type=click.FloatRange(0.5, 60), default=2.0, show_default=True)
@output_option("soak")
def soak_command(
    stations_path: Path, minutes: float, listeners: int, backlog_minutes: float, output: Path
) -> None:
    """The whole lineup on air with listeners on every mount: gaps, lateness, dead air."""
    report = run_soak(stations_path, minutes, listeners, backlog_minutes)
    save(report, output, table(report))
