"""Server-sent events from the real app: hello, track changes, listeners and lineup."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientResponse

from radio.playout import CHUNK_SECONDS
from tests.support import StartServer

TOKEN = "s3cret"


async def events(response: ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """(event name, decoded data) for each event of an EventSource stream."""
    name, data = "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


async def next_event(stream: AsyncIterator[tuple[str, Any]], wanted: str, seconds: float) -> Any:
    async with asyncio.timeout(seconds):
        async for name, data in stream:
            if name == wanted:
                return data
    raise AssertionError(f"the stream ended before a {wanted!r} event")


async def test_hello_then_a_track_event_at_each_change(start_server: StartServer) -> None:
    client, radio = await start_server()
    response = await client.get("/api/events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    stream = events(response)
    hello = await next_event(stream, "hello", 5)
    assert [s["id"] for s in hello["stations"]] == ["jazz", "metal"]
    assert hello["stations"][0]["stream"]["mp3"].endswith("/stream/jazz.mp3")
    seen: dict[str, int] = {}
    while len(seen) < 2 or seen.get("jazz", 0) < 2:  # two changes on jazz, one on metal at least
        track = await next_event(stream, "track", 10)
        received = time.time()
        seen[track["station"]] = seen.get(track["station"], 0) + 1
        playing = radio.on_air[track["station"]].playout.now
        assert playing is not None
        if playing.track.id == track["track"]["id"]:
            assert track["started_at"] == playing.started
        assert track["track"]["display"].startswith(("Blue Hour Jazz - ", "Iron Forge Metal - "))
        # behind: seconds between the track's first byte and the live edge when sent
        assert CHUNK_SECONDS / 2 <= track["behind"] <= received - track["started_at"] + 0.2
        assert track["behind"] < 1.0  # the hub notices a change within a few watch ticks


async def test_listeners_and_lineup_events(start_server: StartServer) -> None:
    client, _ = await start_server(admin_token=TOKEN)
    stream = events(await client.get("/api/events"))
    await next_event(stream, "hello", 5)
    listener = await client.get("/stream/jazz.mp3")
    counts = await next_event(stream, "listeners", 5)
    while counts["jazz"] != 1:
        counts = await next_event(stream, "listeners", 5)
    assert counts == {"jazz": 1, "metal": 0}
    listener.close()

    await client.patch(
        "/api/admin/stations/metal",
        json={"enabled": False},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    lineup = await next_event(stream, "lineup", 5)
    assert lineup == {"stations": ["jazz"]}


async def test_shutdown_ends_open_event_streams(start_server: StartServer) -> None:
    client, _ = await start_server()
    response = await client.get("/api/events")
    stream = events(response)
    await next_event(stream, "hello", 5)
    started = time.monotonic()
    await client.close()  # would wait out aiohttp's shutdown timeout if streams stayed open
    assert time.monotonic() - started < 5
