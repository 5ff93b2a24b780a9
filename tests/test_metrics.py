"""/metrics scraped from the real app and parsed as Prometheus parses it."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests.support import StartServer, on_air, read_stream, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: TestClient[web.Request, web.Application]) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_report_listeners_backlog_generation_and_the_cache(
    start_server: StartServer,
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    base = f"http://{client.host}:{client.port}"
    heard = await read_stream(f"{base}/stream/jazz.mp3", 1.0)
    heard_opus = await read_stream(f"{base}/stream/jazz.opus", 1.0)
    await wait_until(
        lambda: all(radio.scheduler.stats.get(s) for s in ("jazz", "metal")), 15, "generation"
    )
    samples = await scrape(client)
    jazz, metal = (("mount", "/stream/jazz.mp3"),), (("station", "metal"),)
    assert samples[("radio_sent_bytes_total", jazz)] >= len(heard) > 0
    assert samples[("radio_listeners", jazz)] == 0  # the reader has gone
    assert samples[("radio_slow_listeners_dropped_total", jazz)] == 0
    jazz_opus = (("mount", "/stream/jazz.opus"),)
    assert samples[("radio_sent_bytes_total", jazz_opus)] >= len(heard_opus) > 0
    assert samples[("radio_listeners", jazz_opus)] == 0
    assert samples[("radio_backlog_seconds", metal)] > 0
    assert samples[("radio_backlog_target_seconds", metal)] == 12.0
    assert samples[("radio_generated_audio_seconds_total", metal)] > 0
    assert samples[("radio_generator_busy_seconds_total", metal)] > 0
    assert samples[("radio_generation_cpu_seconds_total", metal)] > 0
    assert samples[("radio_replays_total", metal)] >= 0
    assert samples[("radio_cache_bytes", ())] > 10_000  # the catalog and the tracks
    assert samples[("process_open_fds", ())] > 0
    for station in ("jazz", "metal"):
        assert samples[("radio_dead_air_seconds_total", (("station", station),))] == 0
        lateness = samples[("radio_playout_worst_lateness_seconds", (("station", station),))]
        assert lateness >= samples[("radio_playout_lateness_seconds", (("station", station),))]


async def test_a_stalled_event_loop_shows_as_playout_lateness(start_server: StartServer) -> None:
    client, radio = await start_server()
    await on_air(radio)
    time.sleep(2.0)  # noqa: ASYNC251 -- block the loop on purpose, as the 2 s gap of #10 did
    playout = radio.on_air["jazz"].playout
    await wait_until(lambda: playout.worst_lateness_seconds > 0, 5, "lateness noticed")
    samples = await scrape(client)
    worst = samples[("radio_playout_worst_lateness_seconds", (("station", "jazz"),))]
    # The audio published ran 0.5 s ahead of the clock; 2 s of stall leave it 1.5 s late.
    assert worst >= 1.0
