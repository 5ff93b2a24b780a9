"""A station's MP3 broadcast in, the same bytes pushed to an Icecast mount as its source out.

The output is a consumer of the station's one Broadcast: no second encoder, and
Icecast and its relays fan the station out to listeners this server never sees.
Each chunk the broadcast publishes lands in the output's own queue, bounded in
seconds of audio; when Icecast is slow or away the oldest chunks are dropped
(whole chunks, so what Icecast gets is still whole MP3 frames) and counted, and
playout never waits for it. A lost or refused connection is retried with back-off,
said once in the log and kept in `status` for the console.

The push is Icecast 2.4's source protocol: `PUT /mount` with Basic auth and
`Expect: 100-continue`, then the body for as long as the station plays. It is a
raw asyncio stream, not aiohttp's client: the request head must be answered
(100, or 401/403 before a byte of audio) and then the body never ends, whereas
aiohttp's client hands back a response only once the body is done, so a refusal
and a lost connection would both surface late and alike. Titles go through
`/admin/metadata?mode=updinfo` (one short aiohttp request each) the moment the
bytes before the track's first byte have been handed to Icecast's socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from radio.broadcast import Broadcast
from radio.errors import OutputError
from radio.lineup.stations import Station

log = logging.getLogger(__name__)

QUEUE_SECONDS = 10.0  # audio held for a slow Icecast before the oldest is dropped
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)  # waits after 1, 2, 3, 4+ failures in a row
CONNECT_SECONDS = 5.0  # to open the connection, and again for Icecast's answer to the head
WRITE_SECONDS = 10.0  # Icecast not taking a byte for this long has lost the stream
PLAYOUT_RATE = 44100
TITLE_ATTEMPTS = 10
TITLE_RETRY_SECONDS = 0.2

State = Literal["connecting", "streaming", "retrying", "stopped"]


@dataclass(frozen=True)
class Target:
    """Where one station goes: the Icecast server, its mount and the source password."""

    host: str
    port: int
    mount: str
    password: str | None  # None: the environment variable was not set
    password_env: str
    public: bool = False
    url: str = ""  # ice-url: where the station lives

    @property
    def where(self) -> str:
        return f"icecast://{self.host}:{self.port}{self.mount}"


@dataclass
class OutputStatus:
    state: State = "connecting"
    bytes_sent: int = 0
    dropped_bytes: int = 0  # queued audio Icecast could not take in time, or lost with it
    drops: int = 0  # chunks dropped
    connects: int = 0
    reconnects: int = 0  # connects after the first
    failures: int = 0  # failed attempts in a row (0 while streaming)
    last_error: str | None = None
    since: float | None = None  # wall-clock time of the current state


@dataclass
class _Chunk:
    offset: int  # stream byte of data[0]
    data: bytes
    marks: list[tuple[int, str]] = field(default_factory=list)


class IcecastOutput:
    def __init__(
        self,
        station: Station,
        broadcast: Broadcast,
        target: Target,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        self.station = station
        self.broadcast = broadcast
        self.target = target
        self.limit = int(queue_seconds * station.bitrate * 125)
        self.status = OutputStatus(since=time.time())
        self._queue: deque[_Chunk] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._title: str | None = None  # owed to Icecast before the next byte goes out
        self._task: asyncio.Task[None] | None = None
        self._titles: asyncio.Queue[str] = asyncio.Queue()  # for the title sender
        self._http: aiohttp.ClientSession  # for titles; open while run() runs

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"icecast-{self.station.id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._set_state("stopped")

    async def run(self) -> None:
        """Until cancelled: connect, stream, and after any failure wait and connect again."""
        headers = {"Authorization": self._authorization()}
        timeout = aiohttp.ClientTimeout(total=CONNECT_SECONDS)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as self._http:
            titles = asyncio.create_task(self._send_titles())
            try:
                await self._reconnecting()
            finally:
                titles.cancel()
                await asyncio.gather(titles, return_exceptions=True)

    async def _reconnecting(self) -> None:
        while True:
            try:
                await self._stream()
            except (OSError, TimeoutError, OutputError) as exc:
                self._failed(_describe(exc))
            except Exception as exc:  # a bug here must not end the pushes for good
                log.exception("%s: Icecast output failed", self.station.id)
                self._failed(f"{type(exc).__name__}: {exc}")
            finally:
                self._detach()
            wait = BACKOFF_SECONDS[min(self.status.failures, len(BACKOFF_SECONDS)) - 1]
            await asyncio.sleep(wait)

    @property
    def queued_bytes(self) -> int:
        return self._queued

    # -- the broadcast's side: never waits --------------------------------------------
    def _take(self, offset: int, data: bytes) -> None:
        chunk = _Chunk(offset, data, self.broadcast.marks_between(offset, offset + len(data)))
        self._queue.append(chunk)
        self._queued += len(data)
        while self._queued > self.limit and len(self._queue) > 1:
            old = self._queue.popleft()
            self._queued -= len(old.data)
            self.status.dropped_bytes += len(old.data)
            self.status.drops += 1
            if old.marks:  # its audio is gone, but the title still names what follows
                self._title = old.marks[-1][1]
        self._ready.set()

    def _attach(self) -> None:
        self._title = self.broadcast.title
        self.broadcast.consumers.append(self._take)

    def _detach(self) -> None:
        if self._take in self.broadcast.consumers:
            self.broadcast.consumers.remove(self._take)
        self.status.dropped_bytes += self._queued
        self.status.drops += len(self._queue)
        self._queue.clear()
        self._queued = 0

    # -- Icecast's side -------------------------------------------------------------
    async def _stream(self) -> None:
        target = self.target
        if not target.password:
            raise OutputError(
                f"no source password: set the environment variable {target.password_env}"
            )
        self._set_state("connecting")
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
        # that arrives as its awaitable finishes, and stop() would then wait forever.
        async with asyncio.timeout(CONNECT_SECONDS):
            reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            writer.write(self._head())
            async with asyncio.timeout(CONNECT_SECONDS):
                await _accepted(reader, target)
            self._connected()
            self._attach()
            tasks = {asyncio.create_task(self._pump(writer)), asyncio.create_task(_closed(reader))}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # raises why the stream ended
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            writer.transport.abort()  # not close: that would wait to flush to a dead peer

    def _authorization(self) -> str:
        return "Basic " + base64.b64encode(f"source:{self.target.password}".encode()).decode()

    def _head(self) -> bytes:
        target, station = self.target, self.station
        info = f"ice-samplerate={PLAYOUT_RATE};ice-bitrate={station.bitrate};ice-channels=2"
        lines = [
            f"PUT {target.mount} HTTP/1.1",
            f"Host: {target.host}:{target.port}",
            f"Authorization: {self._authorization()}",
            "User-Agent: ai-radio",
            "Content-Type: audio/mpeg",
            "Expect: 100-continue",
            f"ice-name: {station.name}",
            f"ice-genre: {station.genre}",
            f"ice-description: {station.description}",
            f"ice-public: {int(target.public)}",
            f"ice-audio-info: {info}",
        ]
        if target.url:
            lines.append(f"ice-url: {target.url}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
            chunk = self._queue.popleft()
            self._queued -= len(chunk.data)
            cut = 0
            for offset, title in chunk.marks:
                await self._send(writer, chunk.data[cut : offset - chunk.offset])
                cut = offset - chunk.offset
                self._title = title
            await self._send(writer, chunk.data[cut:] if cut else chunk.data)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if self._title is not None:
            self._announce(self._title)
            self._title = None
        if not data:
            return
        writer.write(data)
        try:
            async with asyncio.timeout(WRITE_SECONDS):
                await writer.drain()
        except TimeoutError:
            raise OutputError(f"Icecast took no audio for {WRITE_SECONDS:.0f} s") from None
        self.status.bytes_sent += len(data)

    def _announce(self, title: str) -> None:
        self._titles.put_nowait(title)

    async def _send_titles(self) -> None:
        """One at a time, in order; titles that queued up meanwhile go as the newest only."""
        while True:
            title = await self._titles.get()
            while not self._titles.empty():
                title = self._titles.get_nowait()
            await self._update(title)

    async def _update(self, title: str) -> None:
        target = self.target
        url = f"http://{target.host}:{target.port}/admin/metadata"
        query = {"mode": "updinfo", "mount": target.mount, "song": title, "charset": "UTF-8"}
        try:
            for attempt in range(TITLE_ATTEMPTS):
                async with self._http.get(url, params=query) as reply:
                    # Icecast lists a new source a moment after it answered 100 Continue;
                    # until then the title is refused as for a mount it does not have.
                    if reply.status != 400 or attempt == TITLE_ATTEMPTS - 1:
                        break
                await asyncio.sleep(TITLE_RETRY_SECONDS)
            if reply.status != 200:
                log.warning("%s: Icecast refused the title (%d)", self.station.id, reply.status)
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("%s: could not send the title to Icecast: %s", self.station.id, exc)

    # -- status -----------------------------------------------------------------------
    def _set_state(self, state: State) -> None:
        if state != self.status.state:
            self.status.state = state
            self.status.since = time.time()

    def _connected(self) -> None:
        status = self.status
        if status.connects:
            status.reconnects += 1
        status.connects += 1
        if status.failures:
            log.info(
                "%s: back on %s after %d failed attempts",
                self.station.id,
                self.target.where,
                status.failures,
            )
        else:
            log.info("%s: pushing to %s", self.station.id, self.target.where)
        status.failures = 0
        self._set_state("streaming")

    def _failed(self, message: str) -> None:
        status = self.status
        if status.failures == 0:
            # Once per outage: a server down for an hour is one line, not 450; the
            # status keeps the latest reason.
            log.warning(
                "%s: %s: %s; retrying with back-off", self.station.id, self.target.where, message
            )
        elif message != status.last_error:
            log.debug("%s: %s: now %s", self.station.id, self.target.where, message)
        status.last_error = message
        status.failures += 1
        self._set_state("retrying")


async def _accepted(reader: asyncio.StreamReader, target: Target) -> None:
    """Read Icecast's answer to the request head: 100 Continue (or 200) to go on."""
    line = (await reader.readline()).decode("latin-1").strip()
    match = re.match(r"HTTP/\d\.\d (\d{3}) ?(.*)", line)
    if not match:
        raise OutputError(
            f"not an HTTP answer: {line[:80]!r}" if line else "Icecast closed the connection"
        )
    status, reason = int(match.group(1)), match.group(2)
    while (await reader.readline()).strip():
        pass
    if status in (100, 200):
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            reason = _text(await reader.read(1024)) or reason
    if status == 401:
        raise OutputError(f"wrong source password (401): check {target.password_env}")
    if status == 403:
        raise OutputError(f"mount {target.mount} refused (403: {reason}); is another source on it?")
    raise OutputError(f"Icecast answered {status} {reason}")


async def _closed(reader: asyncio.StreamReader) -> None:
    """Icecast says nothing while it takes a source; end of file means it let go."""
    while await reader.read(4096):
        pass
    raise OutputError("Icecast closed the connection")


def _text(body: bytes) -> str:
    return re.sub(r"<[^>]*>|\s+", " ", body.decode("utf-8", "replace")).strip()[:120]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OutputError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is Icecast running there?)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_SECONDS:.0f} s"
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
