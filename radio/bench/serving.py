"""Our server as a bench's subject: a lineup rewritten for the bench, the server started
as its own process (the synth generator) and waited for, and what /proc and /metrics
say about its CPU and memory. Shared by every bench that runs the whole radio."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import tomlkit
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The process's children, theirs and so on (our server's worker processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def cpu_seconds(pid: int) -> float:
    """CPU the process and its live worker processes have used: the server's whole cost."""
    return _cpu_of([pid, *descendants(pid)])


def workers_cpu_seconds(pid: int) -> float:
    """CPU the process's live worker processes have used: our server's generation and
    preparation, which run in worker processes of their own (radio.offload)."""
    return _cpu_of(descendants(pid))


def _cpu_of(pids: list[int]) -> float:
    total = 0
    for one in pids:
        with contextlib.suppress(OSError):  # a worker that just ended
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The process's own resident memory, without its workers'."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def workers_rss_mb(pid: int) -> float:
    """Resident memory of the process's worker processes (generation, preparation)."""
    total = 0.0
    for one in descendants(pid):
        with contextlib.suppress(OSError):
            total += rss_mb(one)
    return round(total, 1)


def no_generation() -> float:  # a peer such as Icecast generates nothing
    return 0.0


def cpu_percent(
    pid: int, seconds: float, generation: Callable[[], float] = no_generation
) -> dict[str, float]:
    """The process's CPU over `seconds`, whole and without its generation."""
    before, made = cpu_seconds(pid), generation()
    time.sleep(seconds)
    return split(cpu_seconds(pid) - before, generation() - made, seconds)


def split(cpu: float, generation: float, seconds: float) -> dict[str, float]:
    return {
        "cpu_percent": round(cpu / seconds * 100, 1),
        "generation_cpu_percent": round(generation / seconds * 100, 1),
        "delivery_cpu_percent": round((cpu - generation) / seconds * 100, 1),
    }


def scrape(port: int) -> list[Metric]:
    """Our server's /metrics, parsed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return list(text_string_to_metric_families(response.read().decode()))


def wait_ready(port: int, timeout: float = 900.0) -> None:
    """Until every station is on air with its backlog at target: generation at rest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/api/stations"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            stations = json.load(response)["stations"]
            if all(
                s["now_playing"] and s["backlog_seconds"] >= s["backlog_target_seconds"]
                for s in stations
            ):
                return
        time.sleep(1.0)
    raise click.ClickException("our backlogs did not reach their target in time")


def bench_lineup(source: Path, folder: Path, backlog_minutes: float) -> Path:
    document = tomlkit.parse(source.read_text())
    document["defaults"]["backlog_minutes"] = backlog_minutes
    for table in document["stations"]:
        table.pop("backlog_minutes", None)
    path = folder / "stations.toml"
    path.write_text(tomlkit.dumps(document))
    return path


@contextlib.contextmanager
def running_radio(
    stations: Path,
    folder: Path,
    port: int,
    ready: Callable[[int], None] | None = None,
    log: Path | None = None,
) -> Iterator[int]:
    """Our server on `port`, once `ready` (by default: every backlog at target) returns;
    its log in `log` if given."""
    command = [sys.executable, "-m", "radio", "serve", "--port", str(port)]
    command += ["--stations", str(stations), "--cache", str(folder), "--generator", "synth"]
    # Generation and preparation in worker processes, whatever the environment says:
    # the benches tell their CPU from delivery's by process (workers_cpu_seconds).
    command += ["--worker-processes", "true"]
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(log.open("wb")) if log else subprocess.DEVNULL
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            (ready or wait_ready)(port)
            yield server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_on_air(port: int, timeout: float = 900.0) -> None:
    """Until every station has a track on air. Generation goes on while we record, as
    it does on a real radio; on a shared, busy machine a full backlog may never come."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/api/stations"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            if all(s["now_playing"] for s in json.load(response)["stations"]):
                return
        time.sleep(1.0)
    raise click.ClickException("the stations did not go on air in time")
