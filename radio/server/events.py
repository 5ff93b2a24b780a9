"""The radio's state in, server-sent events out: track changes, listeners and lineup, live.

GET /api/events is an EventSource stream (aiohttp-sse). On connect it sends
`hello` (every station's summary); then `track` when a station starts a new
track, `listeners` when counts change and `lineup` when stations go on or off
air. The hub watches playout a few times a second rather than hooking into it:
playout's loop stays the one thing that can never be slowed by a listener.

"Title changes when the listener hears it": a `track` event carries `offset`, the
stream byte where the track's audio begins, and the mount's `byte_rate`. A player
that opens the mount with `?session=<id>` can ask /api/stations/<station>/sessions/<id>
for the byte its connection started at; the mount is CBR, so the track starts at
media time `(offset - start) / byte_rate` on its audio element's clock, exactly,
however the browser buffers or stalls (see web/js/heard.js). `behind`, seconds
between the track's first byte and the live edge when the event is sent, is a
wall-clock figure for clients without a session; it drifts when playback stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from radio.playout import CHUNK_SECONDS
from radio.server.api import station_summary
from radio.server.keys import RADIO
from radio.server.radio import OnAir, Radio
from radio.server.streams import CORS

WATCH_SECONDS = 0.2
LISTENERS_SECONDS = 2.0
QUEUE_LIMIT = 256  # events a subscriber may fall behind before it is cut off

Event = tuple[str, dict[str, Any]]


def track_event(on_air: OnAir) -> dict[str, Any] | None:
    playing = on_air.playout.now
    if playing is None:
        return None
    track = playing.track
    # `started` is taken just after the chunk holding the track's first sample is
    # published; that sample lies on average half a chunk before the chunk's end.
    behind = time.time() - playing.started + CHUNK_SECONDS / 2
    return {
        "station": on_air.station.id,
        "track": {
            "id": track.id,
            "title": track.title,
            "artist": on_air.playout.artist,
            "display": on_air.playout.stream_title(track),
            "duration": round(track.duration, 3),
        },
        "started_at": playing.started,
        # The exact place: the stream byte where the track's audio begins, and the
        # mount's bytes per second (CBR), for players that know their session's start.
        "offset": playing.offset,
        "byte_rate": on_air.station.bitrate * 125,
        "behind": round(max(0.0, behind), 3),
    }


class EventHub:
    """Watches the radio and fans each change out to every open event stream."""

    def __init__(self, radio: Radio) -> None:
        self.radio = radio
        self.subscribers: set[asyncio.Queue[Event | None]] = set()
        self._playing: dict[str, tuple[int, float]] = {}
        self._listeners: dict[str, int] = {}
        self._lineup: tuple[tuple[str, str], ...] = ()

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self.subscribers.discard(queue)

    def publish(self, name: str, data: dict[str, Any]) -> None:
        for queue in list(self.subscribers):
            try:
                queue.put_nowait((name, data))
            except asyncio.QueueFull:  # a stuck client: end its stream, it will reconnect
                self.subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def close(self) -> None:
        for queue in self.subscribers:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)
        self.subscribers.clear()

    async def run(self) -> None:
        last_counts = 0.0
        while True:
            self.check_tracks()
            now = time.monotonic()
            if now - last_counts >= LISTENERS_SECONDS:
                last_counts = now
                self.check_listeners()
            await asyncio.sleep(WATCH_SECONDS)

    def check_tracks(self) -> None:
        on_air = self.radio.on_air
        lineup = tuple((sid, a.station.name) for sid, a in on_air.items())
        if lineup != self._lineup:
            self._lineup = lineup
            self.publish("lineup", {"stations": [sid for sid, _ in lineup]})
        for station_id, station in on_air.items():
            playing = station.playout.now
            if playing is None:
                continue
            key = (playing.track.id, playing.started)
            if self._playing.get(station_id) != key:
                self._playing[station_id] = key
                event = track_event(station)
                if event is not None:
                    self.publish("track", event)

    def check_listeners(self) -> None:
        counts = {sid: len(a.broadcast.listeners) for sid, a in self.radio.on_air.items()}
        if counts != self._listeners:
            self._listeners = counts
            self.publish("listeners", counts)


HUB: web.AppKey[EventHub] = web.AppKey("events")


def setup(app: web.Application) -> None:
    app[HUB] = EventHub(app[RADIO])
    app.cleanup_ctx.append(_hub_lifecycle)
    app.on_shutdown.append(_close_subscribers)


async def _hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[HUB].run(), name="events")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_subscribers(app: web.Application) -> None:
    # Open event streams would otherwise hold graceful shutdown for its full timeout.
    app[HUB].close()


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /api/events: the EventSource stream."""
    radio, hub = request.app[RADIO], request.app[HUB]
    sse = EventSourceResponse(headers=CORS)
    await sse.prepare(request)
    queue = hub.subscribe()
    try:
        async with sse:
            hello = {
                "burst_bytes": radio.settings.burst_bytes,
                "stations": [station_summary(request, radio, a) for a in radio.on_air.values()],
                "tracks": [e for a in radio.on_air.values() if (e := track_event(a))],
            }
            await sse.send(json.dumps(hello), event="hello", retry=2000)
            while (item := await queue.get()) is not None:
                await sse.send(json.dumps(item[1]), event=item[0])
    except ConnectionResetError:
        pass  # the listener left
    finally:
        hub.unsubscribe(queue)
    return sse
