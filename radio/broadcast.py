"""Encoded MP3 chunks in, per-listener byte streams out: the shared ring of one station.

Playout publishes each encoded chunk once; every listener reads from its own
cursor (an absolute byte offset). A new listener starts about `burst` bytes back
so players fill their buffer at once. A listener more than `queue_limit` bytes
behind the head is dropped on the next publish: its socket is not read, so it
must not hold memory or slow anyone else.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

BURST_BYTES = 64 * 1024
QUEUE_LIMIT_BYTES = 512 * 1024


class Lagging(Exception):
    """The listener fell too far behind; the handler closes its stream."""


@dataclass(eq=False)
class Listener:
    cursor: int
    drop: Callable[[], None]  # closes the listener's connection
    session: str | None = None
    dropped: bool = field(default=False)


class Broadcast:
    def __init__(
        self,
        burst: int = BURST_BYTES,
        queue_limit: int = QUEUE_LIMIT_BYTES,
        on_listeners: Callable[[], None] = lambda: None,
    ) -> None:
        self.burst = burst
        self.on_listeners = on_listeners  # told when a listener joins or leaves
        self.queue_limit = queue_limit
        # Keep enough history for the slowest allowed listener plus a burst.
        self.capacity = queue_limit + burst + 64 * 1024
        self.head = 0  # absolute offset of the next byte to be published
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._size = 0
        self._mark_offsets: list[int] = []
        self._mark_titles: list[str] = []
        self._published = asyncio.Event()
        self.listeners: set[Listener] = set()
        # A player's session id -> the stream byte its connection started at, so a web
        # page can place a track's start (a byte offset) on its audio element's clock.
        self.sessions: dict[str, int] = {}
        self.peak_listeners = 0
        self.slow_listeners = 0  # dropped for falling queue_limit bytes behind
        self.bytes_sent = 0  # handed to listeners' connections (their ICY metadata aside)
        self.closed = False

    # -- playout side -----------------------------------------------------------
    def publish(self, data: bytes, marks: Sequence[tuple[int, str]] = ()) -> None:
        """Append a chunk; `marks` are (index within data, title) where a new track starts."""
        for index, title in marks:
            self._mark_offsets.append(self.head + index)
            self._mark_titles.append(title)
        if data:
            self._chunks.append((self.head, data))
            self.head += len(data)
            self._size += len(data)
            while self._size - len(self._chunks[0][1]) >= self.capacity:
                self._size -= len(self._chunks.popleft()[1])
            self._forget_old_marks()
        self._drop_laggards()
        self._published.set()
        self._published = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._published.set()

    # -- listener side ----------------------------------------------------------
    @property
    def tail(self) -> int:
        return self._chunks[0][0] if self._chunks else self.head

    def join(self, drop: Callable[[], None], session: str | None = None) -> Listener:
        """A new listener, positioned a burst back at a chunk (hence MP3 frame) boundary."""
        start = self.head
        for offset, _ in reversed(self._chunks):
            if self.head - offset > self.burst:
                break
            start = offset
        listener = Listener(cursor=start, drop=drop, session=session)
        if session:
            self.sessions[session] = start
        self.listeners.add(listener)
        self.peak_listeners = max(self.peak_listeners, len(self.listeners))
        self.on_listeners()
        return listener

    def leave(self, listener: Listener) -> None:
        if listener not in self.listeners:
            return
        self.listeners.discard(listener)
        if listener.session:
            self.sessions.pop(listener.session, None)
        self.on_listeners()

    async def read(self, listener: Listener) -> bytes:
        """Bytes from the listener's cursor to the head, waiting for new ones if needed."""
        while listener.cursor >= self.head:
            if self.closed:
                return b""
            await self._published.wait()
        if (
            listener.dropped
            or listener.cursor < self.tail
            or self.head - listener.cursor > self.queue_limit
        ):
            raise Lagging(f"listener {self.head - listener.cursor} bytes behind")
        data = self._slice(listener.cursor)
        self.bytes_sent += len(data)
        return data

    def title_at(self, offset: int) -> str | None:
        """The title of the track whose audio contains stream byte `offset`."""
        index = bisect.bisect_right(self._mark_offsets, offset) - 1
        return self._mark_titles[index] if index >= 0 else None

    @property
    def title(self) -> str | None:
        return self._mark_titles[-1] if self._mark_titles else None

    def _slice(self, cursor: int) -> bytes:
        # Walk back from the newest chunk: a listener keeping up needs one or two.
        parts = []
        for offset, chunk in reversed(self._chunks):
            if offset + len(chunk) <= cursor:
                break
            parts.append(chunk[max(0, cursor - offset) :])
        return b"".join(reversed(parts))

    def _forget_old_marks(self) -> None:
        # Keep the last mark before the tail: it names the audio at the tail.
        keep = bisect.bisect_right(self._mark_offsets, self.tail) - 1
        if keep > 0:
            del self._mark_offsets[:keep]
            del self._mark_titles[:keep]

    def _drop_laggards(self) -> None:
        for listener in list(self.listeners):
            if self.head - listener.cursor > self.queue_limit and not listener.dropped:
                listener.dropped = True
                self.slow_listeners += 1
                self.leave(listener)
                listener.drop()
