"""The running radio in, /metrics out: Prometheus text, read from live state at scrape time.

Nothing on a hot path counts for this page beyond a few integers the broadcast
and playout keep anyway: a custom collector reads the radio's state when
Prometheus asks. The state is sampled on the event loop (where it changes);
the cache's disk use and the process's descriptors are read on a worker thread.

    radio_listeners{mount}                      listeners connected now (.mp3 and .opus)
    radio_sent_bytes_total{mount}               audio bytes handed to listeners
    radio_slow_listeners_dropped_total{mount}   listeners dropped for falling behind
    radio_backlog_seconds{station}              prepared audio not yet played
    radio_backlog_target_seconds{station}       what the scheduler keeps it at
    radio_generated_audio_seconds_total{station}  audio made; its rate() is generation
                                                seconds per second
    radio_generator_busy_seconds_total{station} generator time spent on it
    radio_replays_total{station}                tracks replayed because the backlog was dry
    radio_dead_air_seconds_total{station}       silence for want of a track (should stay 0)
    radio_playout_lateness_seconds{station}     how long ago published audio ran out, last
    radio_playout_worst_lateness_seconds{station}  and worst seen
    radio_cache_bytes                           disk used by the cache folder
    process_open_fds, process_max_fds, ...      prometheus_client's process collector
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from radio.core import Radio
from radio.scheduler import target
from radio.server.keys import RADIO


@dataclass(frozen=True)
class MountSample:
    mount: str
    listeners: int
    sent_bytes: int
    slow_dropped: int


@dataclass(frozen=True)
class StationSample:
    station: str
    mounts: tuple[MountSample, ...]  # .mp3, .opus
    backlog_seconds: float
    backlog_target_seconds: float
    generated_seconds: float
    busy_seconds: float
    generation_cpu_seconds: float
    replays: int
    dead_air_seconds: float
    lateness_seconds: float
    worst_lateness_seconds: float


def sample(radio: Radio) -> list[StationSample]:
    """Every station on air, as numbers; on the event loop, where this state changes."""
    samples = []
    for station_id, on_air in radio.on_air.items():
        stats = radio.scheduler.stats.get(station_id)
        playout = on_air.playout
        mounts = tuple(
            MountSample(
                mount=f"/stream/{station_id}.{kind}",
                listeners=len(broadcast.listeners),
                sent_bytes=broadcast.bytes_sent,
                slow_dropped=broadcast.slow_listeners,
            )
            for kind, broadcast in (("mp3", on_air.broadcast), ("opus", on_air.opus))
        )
        samples.append(
            StationSample(
                station=station_id,
                mounts=mounts,
                backlog_seconds=radio.seconds_ahead(station_id),
                backlog_target_seconds=target(on_air.station),
                generated_seconds=stats.seconds_generated if stats else 0.0,
                busy_seconds=stats.seconds_busy if stats else 0.0,
                generation_cpu_seconds=stats.cpu_seconds if stats else 0.0,
                replays=radio.backlog.replays.get(station_id, 0),
                dead_air_seconds=playout.dead_air_seconds,
                lateness_seconds=playout.lateness_seconds,
                worst_lateness_seconds=playout.worst_lateness_seconds,
            )
        )
    return samples


# (name, kind, help, label, field of MountSample or StationSample, as the label says)
FAMILIES = (
    ("radio_listeners", "gauge", "Listeners connected now.", "mount", "listeners"),
    ("radio_sent_bytes", "counter", "Audio bytes handed to listeners.", "mount", "sent_bytes"),
    (
        "radio_slow_listeners_dropped",
        "counter",
        "Listeners dropped for falling queue_limit_bytes behind.",
        "mount",
        "slow_dropped",
    ),
    (
        "radio_backlog_seconds",
        "gauge",
        "Prepared audio not yet played.",
        "station",
        "backlog_seconds",
    ),
    (
        "radio_backlog_target_seconds",
        "gauge",
        "The backlog the scheduler keeps.",
        "station",
        "backlog_target_seconds",
    ),
    (
        "radio_generated_audio_seconds",
        "counter",
        "Seconds of audio generated; its rate is generation seconds per second.",
        "station",
        "generated_seconds",
    ),
    (
        "radio_generator_busy_seconds",
        "counter",
        "Generator time spent on this station.",
        "station",
        "busy_seconds",
    ),
    (
        "radio_generation_cpu_seconds",
        "counter",
        "CPU time spent generating and preparing the station's audio (worker processes too).",
        "station",
        "generation_cpu_seconds",
    ),
    ("radio_replays", "counter", "Tracks replayed for want of a fresh one.", "station", "replays"),
    (
        "radio_dead_air_seconds",
        "counter",
        "Silence sent for want of any track, after the first.",
        "station",
        "dead_air_seconds",
    ),
    (
        "radio_playout_lateness_seconds",
        "gauge",
        "How long ago the published audio ran out at the last playout tick (0: ahead).",
        "station",
        "lateness_seconds",
    ),
    (
        "radio_playout_worst_lateness_seconds",
        "gauge",
        "The worst playout lateness since the station went on air.",
        "station",
        "worst_lateness_seconds",
    ),
)


class RadioCollector(Collector):
    """One scrape's samples and the cache folder, as metric families."""

    def __init__(self, samples: list[StationSample], cache_dir: Path) -> None:
        self.samples = samples
        self.cache_dir = cache_dir

    def collect(self) -> Iterator[Metric]:
        for name, kind, help_text, label, attribute in FAMILIES:
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(name, help_text, labels=[label])
            for s in self.samples:
                for one in s.mounts if label == "mount" else (s,):
                    family.add_metric([getattr(one, label)], float(getattr(one, attribute)))
            yield family
        yield GaugeMetricFamily(
            "radio_cache_bytes", "Disk used by the cache folder.", value=disk_used(self.cache_dir)
        )


def disk_used(folder: Path) -> int:
    """Bytes of disk the files under `folder` occupy (allocated blocks, not lengths)."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue  # gone, or not readable: count what can be read
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue  # removed while we walked
    return total


def render(
    samples: list[StationSample], cache_dir: Path, workers: Mapping[str, int] | None = None
) -> bytes:
    """The exposition text; on a worker thread (it walks the cache and reads /proc).

    `workers` (what each does: pid) get the process collector's figures too, under
    `radio_<what>_worker_process_*`: their memory and CPU are not in the server's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RadioCollector(samples, cache_dir))
    registry.register(ProcessCollector(registry=None))
    for what, pid in (workers or {}).items():
        namespace = f"radio_{what}_worker"
        registry.register(ProcessCollector(namespace, pid=_always(pid), registry=None))
    return generate_latest(registry)


def _always(pid: int) -> Callable[[], int]:
    return lambda: pid


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: the Prometheus text format."""
    radio = request.app[RADIO]
    body = await asyncio.to_thread(render, sample(radio), radio.cache_dir, radio.worker_pids())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
