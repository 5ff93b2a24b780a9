"""Encoded chunks (MP3, Ogg Opus) in, bytes written into every listener's connection out: one mount.

Playout publishes each encoded chunk once and the broadcast writes it straight
into each listener's transport: no coroutine per listener wakes up, and every
plain listener gets the same bytes object (issue #8 measured a coroutine per
listener at 4x Icecast's cost per listener). An ICY listener gets the same
object too, except in the chunk where its next metadata block falls. A large
mount is written FAN_OUT_SLICE listeners per turn of the loop, so new listeners
and requests are served between slices instead of waiting out the whole mount.

A new listener is sent a burst at once, starting about `burst` bytes back on a
chunk boundary, which is an MP3 frame boundary (the encoder hands on whole frames).
A listener whose connection holds more than `queue_limit` unsent bytes is slow,
and so is one whose unsent bytes have not gone down for STALL_SECONDS (it stopped
reading: at 128 kbps the byte limit alone took about 50 s to notice, #10): it is
dropped and counted in `slow_listeners`, so it holds no more memory and slows
nobody else.

A format whose listeners must first be sent a stream's headers (Ogg: each
logical stream opens with its OpusHead and OpusTags pages) publishes them with
the chunk where that stream begins; a burst that starts later in the stream is
sent those headers first, so a listener joining mid-track decodes its first byte.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from radio.icy import METAINT, IcyInterleaver

BURST_BYTES = 64 * 1024
QUEUE_LIMIT_BYTES = 512 * 1024
STALL_SECONDS = 10.0
# Listeners written in one turn of the loop. One chunk's writes to 8,000 sockets held
# the loop for 90-140 ms, four times a second, and a new listener's first byte waited
# behind them (p90 96-109 ms at 8,000, #8's goal is 50 ms); in slices of 256 (3-4 ms)
# connects and requests are served between them (p90 27-34 ms).
FAN_OUT_SLICE = 256


class Connection(Protocol):
    """What the broadcast needs of a listener's socket; an asyncio transport is one."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...


@dataclass(eq=False)
class Listener:
    connection: Connection
    gone: asyncio.Future[None]  # resolved once the broadcast lets go of the listener
    icy: IcyInterleaver | None = None
    session: str | None = None
    unsent: int = 0  # bytes its connection held unsent at the last publish
    stalled_since: float | None = None  # since when those have not gone down


@dataclass
class _FanOut:
    """A chunk's writes still to do: to `listeners[start:]`, from when `handle` runs."""

    chunk: tuple[int, bytes]  # (stream offset, data)
    listeners: list[Listener]
    start: int
    handle: asyncio.Handle


class Broadcast:
    def __init__(
        self,
        burst: int = BURST_BYTES,
        queue_limit: int = QUEUE_LIMIT_BYTES,
        on_listeners: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.clock = clock
        self.on_listeners = on_listeners  # told when a listener joins or leaves
        self.queue_limit = queue_limit
        # Only bursts are read back from here: a burst plus the chunk it may start in.
        self.capacity = burst + 64 * 1024
        self.head = 0  # absolute offset of the next byte to be published
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._size = 0
        self._mark_offsets: list[int] = []
        self._mark_titles: list[str] = []
        self._header_offsets: list[int] = []  # where each stream that needs headers begins
        self._headers: list[bytes] = []
        self.listeners: set[Listener] = set()
        # A player's session id -> the stream byte its connection started at, so a web
        # page can place a track's start (a byte offset) on its audio element's clock.
        self.sessions: dict[str, int] = {}
        self.peak_listeners = 0
        self.slow_listeners = 0  # dropped for falling behind, since start (Icecast's name)
        self.bytes_sent = 0  # handed to listeners' connections (their ICY metadata aside)
        self.closed = False
        # Inside consumers (an Icecast source output) get every chunk as (offset, data):
        # they are not listeners, so they are neither counted nor dropped as slow, and
        # each keeps its own bounded queue so that it can never slow the station.
        self.consumers: list[Callable[[int, bytes], None]] = []
        self._fanning: _FanOut | None = None  # the last chunk's, while still under way

    # -- playout side -----------------------------------------------------------
    def publish(
        self,
        data: bytes,
        marks: Sequence[tuple[int, str]] = (),
        headers: Sequence[tuple[int, bytes]] = (),
    ) -> None:
        """Append a chunk and write it to every listener; `marks` are (index within
        data, title) where a new track starts; `headers` are (index within data,
        bytes) where a stream begins that a listener joining later needs first."""
        for index, title in marks:
            self._mark_offsets.append(self.head + index)
            self._mark_titles.append(title)
        for index, header in headers:
            self._header_offsets.append(self.head + index)
            self._headers.append(header)
        if not data:
            # An idle on-demand mount is told each title with no audio: its marks
            # must still be trimmed, or they pile up for as long as nobody listens.
            self._forget_old_marks()
            return
        offset = self.head
        self._chunks.append((offset, data))
        self.head += len(data)
        self._size += len(data)
        while self._size - len(self._chunks[0][1]) >= self.capacity:
            self._size -= len(self._chunks.popleft()[1])
        self._forget_old_marks()
        for consumer in list(self.consumers):
            consumer(offset, data)
        if (last := self._fanning) is not None:  # each listener must have it first
            last.handle.cancel()
            self._fan_out(last.chunk, last.listeners, last.start, len(last.listeners))
        self._fan_out((offset, data), list(self.listeners), 0, FAN_OUT_SLICE)

    def _fan_out(
        self, chunk: tuple[int, bytes], listeners: list[Listener], start: int, stop: int
    ) -> None:
        """Write `chunk` to `listeners[start:stop]`; the rest are written in later turns."""
        self._fanning = None
        if stop < len(listeners):
            loop = asyncio.get_running_loop()
            handle = loop.call_soon(self._fan_out, chunk, listeners, stop, stop + FAN_OUT_SLICE)
            self._fanning = _FanOut(chunk, listeners, stop, handle)
        offset, data = chunk
        now = self.clock()
        for listener in listeners[start:stop]:
            connection = listener.connection
            if listener not in self.listeners:  # it left since the chunk was published
                continue
            if connection.is_closing():
                self.leave(listener)
            elif self._slow(listener, now):
                self.slow_listeners += 1
                connection.abort()  # not close: that would wait to flush to a non-reader
                self.leave(listener)
            elif listener.icy is None:
                connection.write(data)
                self.bytes_sent += len(data)
            else:
                connection.write(listener.icy.feed(data, offset))
                self.bytes_sent += len(data)

    def _slow(self, listener: Listener, now: float) -> bool:
        unsent = listener.connection.get_write_buffer_size()
        if unsent == 0 or unsent < listener.unsent:
            listener.stalled_since = None  # it reads
        elif listener.stalled_since is None:
            listener.stalled_since = now
        listener.unsent = unsent
        stalled = (
            listener.stalled_since is not None and now - listener.stalled_since > STALL_SECONDS
        )
        return unsent > self.queue_limit or stalled

    def close(self) -> None:
        self.closed = True
        for listener in list(self.listeners):
            self.leave(listener)

    def drop_burst(self) -> None:
        """Forget the audio kept for bursts, and the stream headers with it: the stream
        pauses here (an on-demand mount with nobody listening), and when it goes on, a
        new listener starts on what comes next, not on stale audio."""
        self._chunks.clear()
        self._size = 0
        self._header_offsets.clear()
        self._headers.clear()
        self._forget_old_marks()

    # -- listener side ----------------------------------------------------------
    @property
    def tail(self) -> int:
        return self._chunks[0][0] if self._chunks else self.head

    def join(
        self,
        connection: Connection,
        icy: bool = False,
        session: str | None = None,
        metaint: int = METAINT,
    ) -> Listener:
        """A new listener, sent its burst at once from a chunk (hence MP3 frame or Ogg
        page) boundary, after the headers of the stream it starts in."""
        start = self.head
        for offset, _ in reversed(self._chunks):
            if self.head - offset > self.burst:
                break
            start = offset
        listener = Listener(
            connection,
            asyncio.get_running_loop().create_future(),
            IcyInterleaver(self.title_at, metaint) if icy else None,
            session,
        )
        if self.closed:
            listener.gone.set_result(None)
            return listener
        burst = b"".join(chunk for offset, chunk in self._chunks if offset >= start)
        if burst:
            if headers := self._headers_for(start):
                connection.write(headers)
            connection.write(listener.icy.feed(burst, start) if listener.icy else burst)
            self.bytes_sent += len(burst)
        if session:
            self.sessions[session] = start
        self.listeners.add(listener)
        self.peak_listeners = max(self.peak_listeners, len(self.listeners))
        self.on_listeners()
        return listener

    def leave(self, listener: Listener) -> None:
        if not listener.gone.done():
            listener.gone.set_result(None)
        if listener not in self.listeners:
            return
        self.listeners.discard(listener)
        if listener.session:
            self.sessions.pop(listener.session, None)
        self.on_listeners()

    def title_at(self, offset: int) -> str | None:
        """The title of the track whose audio contains stream byte `offset`."""
        index = bisect.bisect_right(self._mark_offsets, offset) - 1
        return self._mark_titles[index] if index >= 0 else None

    def _headers_for(self, offset: int) -> bytes:
        """The headers a listener starting at `offset` lacks: those of the stream it
        falls in, unless it starts right where they are in the stream anyway."""
        index = bisect.bisect_right(self._header_offsets, offset) - 1
        if index < 0 or self._header_offsets[index] == offset:
            return b""
        return self._headers[index]

    def marks_between(self, start: int, end: int) -> list[tuple[int, str]]:
        """(stream byte, title) of each track start in [start, end)."""
        first = bisect.bisect_left(self._mark_offsets, start)
        last = bisect.bisect_left(self._mark_offsets, end)
        return list(zip(self._mark_offsets[first:last], self._mark_titles[first:last], strict=True))

    @property
    def title(self) -> str | None:
        return self._mark_titles[-1] if self._mark_titles else None

    def _forget_old_marks(self) -> None:
        # Keep the last mark before the tail: it names the audio at the tail.
        keep = bisect.bisect_right(self._mark_offsets, self.tail) - 1
        if keep > 0:
            del self._mark_offsets[:keep]
            del self._mark_titles[:keep]
        keep = bisect.bisect_right(self._header_offsets, self.tail) - 1
        if keep > 0:
            del self._header_offsets[:keep]
            del self._headers[:keep]
