"""`radio bench catalog`: the catalog's writes timed while the same disk is flooded with
writes, under SQLite's synchronous=FULL (its default) and NORMAL (ours), in turns.

Every catalog call runs on one thread: the scheduler's new tracks, every station's play
rows, retention, the API's reads. In WAL mode with synchronous=FULL each commit waits for
an fsync of the log, and while something else floods the disk one fsync can take
hundreds of milliseconds; all that is queued behind it waits too. (Playout used to be
queued there at each track change: issue #10's 2.0 s gap.) With NORMAL a commit syncs
nothing until a checkpoint. It still survives the process being killed; only an OS crash
or a power cut can lose the last commits, and the database stays whole either way.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from radio.bench.report import machine, output_option, save
from radio.catalog import Catalog
from radio.tracks import NewTrack

SETTINGS = ("FULL", "NORMAL")
PAUSE_SECONDS = 0.02  # between one track's writes and the next's, as writes come in a server
SLOW_MS = 100.0  # a write this slow holds up everything queued on the catalog's thread
BLOCK = b"\0" * (8 << 20)
FLOOD_BLOCKS = 128  # the flood rewrites 1 GiB, syncing it at the end as a copy does


class DiskFlood:
    """Heavy writes to the same disk, as a copy or a backup makes them, on a thread."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "flood.bin"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disk-flood", daemon=True)

    def __enter__(self) -> DiskFlood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        with self.path.open("wb") as f:
            written = 0
            while not self._stop.is_set():
                f.write(BLOCK)
                written += 1
                if written % FLOOD_BLOCKS == 0:
                    os.fsync(f.fileno())
                    f.seek(0)


def _track(synchronous: str, number: int) -> NewTrack:
    return NewTrack(
        station="jazz",
        title=f"Bench {number}",
        prompt="bench",
        seed=number,
        generator="bench",
        model="",
        parameters={},
        duration=90.0,
        sample_rate=44_100,
        loudness=-16.0,
        audio_hash=f"{synchronous}-{number}",
        path=f"jazz/bench-{number}.flac",
    )


def time_writes(folder: Path, synchronous: str, seconds: float) -> list[float]:
    """Milliseconds per write, each track's as a server makes them: its row, its play
    starting, its play ending."""
    path = folder / f"catalog-{synchronous}.db"
    catalog = Catalog(path)
    catalog.db.execute(f"PRAGMA synchronous = {synchronous}")
    times: list[float] = []

    def timed(write: Any, *args: Any) -> Any:
        began = time.perf_counter()
        result = write(*args)
        times.append((time.perf_counter() - began) * 1000)
        return result

    try:
        deadline, number = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            number += 1
            track_id = timed(catalog.add_track, _track(synchronous, number))
            play_id = timed(catalog.start_play, track_id, "jazz", 1)
            timed(catalog.end_play, play_id, 1)
            time.sleep(PAUSE_SECONDS)
    finally:
        catalog.close()
        for leftover in folder.glob(f"{path.name}*"):
            leftover.unlink()
    return times


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "writes": len(times),
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(statistics.quantiles(times, n=100, method="inclusive")[-1], 2),
        "max_ms": round(max(times), 2),
        f"over_{SLOW_MS:g}_ms": sum(t > SLOW_MS for t in times),
    }


def run_catalog(folder: Path, seconds: float, rounds: int, flood: bool) -> dict[str, Any]:
    """Each setting `rounds` times, taking turns, beside one flood for the whole run."""
    folder.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {s: [] for s in SETTINGS}
    with tempfile.TemporaryDirectory(dir=folder, prefix="bench-catalog-") as tmp:
        work = Path(tmp)
        with DiskFlood(work) if flood else contextlib.nullcontext():
            for _ in range(rounds):
                for synchronous in SETTINGS:
                    times[synchronous] += time_writes(work, synchronous, seconds)
    settings = {s: summary(t) for s, t in times.items()}
    full, normal = settings["FULL"], settings["NORMAL"]
    return {
        "machine": machine(),
        "folder": str(folder),
        "seconds_per_turn": seconds,
        "rounds": rounds,
        "disk_flood": flood,
        "settings": settings,
        # Above 1: FULL's slowest writes are that many times NORMAL's.
        "p99_ratio_full_to_normal": round(full["p99_ms"] / max(normal["p99_ms"], 0.01), 1),
        "max_ratio_full_to_normal": round(full["max_ms"] / max(normal["max_ms"], 0.01), 1),
    }


def table(report: dict[str, Any]) -> list[str]:
    flood = "beside a disk flood" if report["disk_flood"] else "on a quiet disk"
    lines = [
        f"catalog writes {flood}, {report['rounds']} x {report['seconds_per_turn']:g} s each",
        f"{'synchronous':<12} {'writes':>7} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} "
        f"{'>' + format(SLOW_MS, 'g') + ' ms':>8}",
    ]
    for name, s in report["settings"].items():
        lines.append(
            f"{name:<12} {s['writes']:>7} {s['median_ms']:>10.2f} {s['p99_ms']:>8.2f} "
            f"{s['max_ms']:>8.2f} {s[f'over_{SLOW_MS:g}_ms']:>8}"
        )
    lines.append(
        f"FULL / NORMAL: p99 {report['p99_ratio_full_to_normal']}x, "
        f"max {report['max_ratio_full_to_normal']}x"
    )
    return lines


@click.command("catalog")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cache/bench"),
    show_default=True,
    help="Where the catalogs (and the flood) are written: put it on the cache's disk.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(0.5),
    default=15.0,
    show_default=True,
    help="Seconds of writes per turn.",
)
@click.option(
    "--rounds", type=click.IntRange(1), default=2, show_default=True, help="Turns of each setting."
)
@click.option(
    "--flood/--quiet-disk",
    default=True,
    show_default=True,
    help="Rewrite 1 GiB on the same disk throughout, synced at the end of each pass.",
)
@output_option("catalog")
def catalog_command(folder: Path, seconds: float, rounds: int, flood: bool, output: Path) -> None:
    """The catalog's writes under synchronous=FULL and NORMAL, a disk flood beside them."""
    report = run_catalog(folder, seconds, rounds, flood)
    save(report, output, table(report))
