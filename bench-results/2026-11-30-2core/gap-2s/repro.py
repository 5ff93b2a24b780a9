"""Issue #10's 2.0 s gap, reproduced: one tree's server, 15 stations, 4 listeners a mount,
every read gap over 0.6 s logged with its station and the nearest track change there.

    GAP_INJECT=1 PYTHONPATH=inject python repro.py TREE STATIONS CACHE SECONDS OUT.json

STATIONS here was TREE's own stations.toml with track_seconds = 30 and backlog_minutes = 2,
so that 15 stations change track every few seconds between them.

Run it with the working folder at nowhere in particular: the server is started with its
working folder at TREE, so TREE's `radio` is the one imported (see the README on A/Bs).
With GAP_INJECT=1, inject/sitecustomize.py makes every 4th play write wait 2 s: a catalog
thread busy for that long, as a slow fsync or a long query ahead of it makes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

PER_MOUNT = 4
GAP = 0.6  # a gap worth reporting; the soak's own line is 1 s
SETTLE = 15.0  # seconds after connecting before gaps count (the burst, the first tracks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Run:
    def __init__(self, stations: Path) -> None:
        self.ids = re.findall(r'^id = "([^"]+)"', stations.read_text(), re.M)
        self.t0 = time.monotonic()
        self.on_air: dict[str, list[float]] = {i: [] for i in self.ids}
        self.logged: list[str] = []  # the server's warnings and errors
        self.injected: list[str] = []
        self.gaps: list[tuple[str, int, float, float]] = []  # station, listener, ended, s
        self.client_lags: list[float] = []  # this process's own lapses: a client stall
        self.stopping = False

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def read_log(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if m := re.search(r"(\S+): on air:", text):
                self.on_air.setdefault(m.group(1), []).append(self.now())
            if text.startswith("INJECT"):
                self.injected.append(f"{self.now():.1f} {text}")
            if " WARNING " in text or " ERROR " in text:
                self.logged.append(f"{self.now():.1f} {text[:200]}")

    async def listen(self, port: int, station: str, n: int, count_from: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /stream/{station}.mp3 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        last = None
        while await reader.read(65536):
            now = self.now()
            if last is not None and now > count_from and now - last > GAP:
                self.gaps.append((station, n, now, now - last))
            last = now
        if not self.stopping:
            self.logged.append(f"{self.now():.1f} listener {station}/{n} was closed")

    async def watch_self(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(0.05)
            if (lapse := time.monotonic() - began - 0.05) > 0.1:
                self.client_lags.append(round(lapse, 2))

    def nearest_change(self, station: str, at: float) -> float | None:
        """Seconds from a gap's start to its station's nearest track change."""
        changes = self.on_air.get(station, [])
        return round(min(changes, key=lambda t: abs(t - at)) - at, 2) if changes else None


async def main(tree: Path, stations: Path, cache: Path, seconds: float) -> dict[str, object]:
    run, port = Run(stations), free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "radio",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--stations",
        str(stations),
        "--cache",
        str(cache),
        "--generator",
        "synth",
        cwd=tree,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert server.stdout is not None
    log = asyncio.create_task(run.read_log(server.stdout))
    for _ in range(600):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    watch = asyncio.create_task(run.watch_self())
    count_from = run.now() + SETTLE
    listeners = [
        asyncio.create_task(run.listen(port, s, n, count_from))
        for s in run.ids
        for n in range(PER_MOUNT)
    ]
    await asyncio.sleep(seconds)
    run.stopping = True
    server.send_signal(signal.SIGTERM)
    await server.wait()
    await log
    for task in [*listeners, watch]:
        task.cancel()
    gaps = [
        {
            "station": station,
            "listener": n,
            "ended_s": round(ended, 2),
            "seconds": round(length, 2),
            "nearest_track_change_s": run.nearest_change(station, ended - length),
        }
        for station, n, ended, length in run.gaps
    ]
    events = {(station, round(ended, 1)) for station, _, ended, _ in run.gaps}
    longest = round(max((length for *_, length in run.gaps), default=0.0), 2)
    print(
        f"{tree}: {len(run.injected)} stalls injected, {len(gaps)} listener gaps over "
        f"{GAP} s in {len(events)} events, longest {longest} s, "
        f"{len(run.logged)} server warnings, client lapses {run.client_lags}"
    )
    return {
        "tree": str(tree),
        "seconds": seconds,
        "listeners": len(listeners),
        "stalls_injected": len(run.injected),
        "gaps_over_0_6_s": len(gaps),
        "gap_events": len(events),
        "longest_gap_s": longest,
        "client_lapses_over_0_1_s": run.client_lags,
        "server_warnings": run.logged,
        "injected": run.injected,
        "gaps": gaps,
    }


if __name__ == "__main__":
    tree, stations, cache, seconds, out = sys.argv[1:6]
    report = asyncio.run(main(Path(tree), Path(stations), Path(cache), float(seconds)))
    Path(out).write_text(json.dumps(report, indent=1) + "\n")
