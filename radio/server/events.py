"""The radio's happenings in, server-sent events out: track changes, listeners and lineup, live.

GET /api/events is an EventSource stream (aiohttp-sse). On connect it sends
`hello` (every station's summary); then `track` when a station starts a new
track, `listeners` when counts change (at most every LISTENERS_SECONDS),
`lineup` when stations go on or off air and `daypart` when one begins or ends.
The hub is told by the radio (playout announces each track start); it never
polls, and playout never waits on it: telling only queues.

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
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from radio.core import (
    DaypartChanged,
    Happening,
    LineupChanged,
    ListenersChanged,
    Radio,
    TrackStarted,
)
from radio.server import shapes
from radio.server.keys import HUB, RADIO

LISTENERS_SECONDS = 2.0
QUEUE_LIMIT = 256  # events a subscriber may fall behind before it is cut off

Event = tuple[str, dict[str, Any]]


class EventHub:
    """Turns the radio's happenings into events and fans each out to every open stream."""

    def __init__(self, radio: Radio) -> None:
        self.radio = radio
        self.subscribers: set[asyncio.Queue[Event | None]] = set()
        self._counts_due: asyncio.TimerHandle | None = None
        self._counts: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        self.radio.subscribe(self.told)
        try:
            yield
        finally:
            self.radio.unsubscribe(self.told)
            if self._counts_due is not None:
                self._counts_due.cancel()

    def told(self, happening: Happening) -> None:
        match happening:
            case TrackStarted(station):
                on_air = self.radio.on_air.get(station)
                event = shapes.track_event(on_air) if on_air else None
                if event is not None:
                    self.publish("track", event)
            case ListenersChanged():
                # Counts change with every connect; one event per interval is plenty.
                if self._counts_due is None:
                    loop = asyncio.get_running_loop()
                    self._counts_due = loop.call_later(LISTENERS_SECONDS, self._publish_counts)
            case LineupChanged(stations):
                self.publish("lineup", {"stations": list(stations)})
            case DaypartChanged(station, daypart):
                self.publish("daypart", {"station": station, "daypart": daypart})

    def _publish_counts(self) -> None:
        self._counts_due = None
        counts = {sid: sum(shapes.listeners(a).values()) for sid, a in self.radio.on_air.items()}
        if counts != self._counts:
            self._counts = counts
            self.publish("listeners", counts)

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
        """Open event streams would otherwise hold graceful shutdown for its full timeout."""
        for queue in self.subscribers:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)
        self.subscribers.clear()


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /api/events: the EventSource stream."""
    radio, hub = request.app[RADIO], request.app[HUB]
    sse = EventSourceResponse()
    await sse.prepare(request)
    queue = hub.subscribe()
    base = shapes.base_url(request)
    try:
        async with sse:
            hello = {
                "burst_bytes": radio.settings.burst_bytes,
                "stations": [shapes.station_summary(base, radio, a) for a in radio.on_air.values()],
                "tracks": [e for a in radio.on_air.values() if (e := shapes.track_event(a))],
            }
            await sse.send(json.dumps(hello), event="hello", retry=2000)
            while (item := await queue.get()) is not None:
                await sse.send(json.dumps(item[1]), event=item[0])
    except ConnectionResetError:
        pass  # the listener left
    finally:
        hub.unsubscribe(queue)
    return sse
