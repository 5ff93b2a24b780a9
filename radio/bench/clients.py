"""A mount's address and a count in, per-listener delivery figures out: loopback listeners
spread over a few processes, so thousands of them do not cost one Python core.

Each process connects its share with plain sockets, then wakes every POLL_SECONDS
and reads whatever every ready socket holds (epoll), as a player draining its
buffer would; waking per arriving packet would cost the client more than either
server. Its figures: bytes inside the measured window, the longest gap between
two reads that brought bytes, and whether the server closed the connection.
Fresh probes measure a new listener's first byte and its burst meanwhile.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import select
import socket
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from typing import Any

import click

POLL_SECONDS = 0.1
CONNECT_SECONDS = 300.0  # Icecast took 20 s per 1,000 here, under load
CONNECT_BATCH = 25
PROBE_SECONDS = 0.5  # the burst: what a new listener holds this soon after connecting
COLLECT_SECONDS = 120.0  # after the window, for every process's figures


@dataclass(frozen=True)
class Delivery:
    window_bytes: int
    longest_gap: float  # seconds between reads that brought bytes, within the window
    closed: bool
    gap_ended: float = 0.0  # seconds into the window when the longest gap ended
    # The client process's own longest lapse past its poll in the window: a gap this
    # long is the client's, not the server's (all the process's listeners share it).
    client_stall: float = 0.0


@dataclass(frozen=True)
class FirstAudio:
    first_byte_ms: float
    burst_bytes: int
    on_frame: bool  # the body starts with an MPEG-1 Layer III frame header


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: radio-bench\r\n\r\n".encode()


def _connect(port: int, path: str, count: int, deadline: float) -> list[socket.socket]:
    """A batch at a time, non-blocking: a burst of thousands of connects overflows a
    server's accept queue (Icecast's), and each dropped one waits out TCP's backoff."""
    connected: list[socket.socket] = []
    epoll = select.epoll()
    for first in range(0, count, CONNECT_BATCH):
        pending: dict[int, socket.socket] = {}
        for _ in range(min(CONNECT_BATCH, count - first)):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            pending[sock.fileno()] = sock
            epoll.register(sock.fileno(), select.EPOLLOUT)
        while pending and time.monotonic() < deadline:
            for fd, _ in epoll.poll(1.0):
                sock = pending.pop(fd)
                epoll.unregister(fd)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sock.close()
                    continue
                try:
                    sock.send(_request(path))
                except OSError:  # reset before the request went: a listener short, not a
                    sock.close()  # dead client process the parent would wait on for good
                    continue
                connected.append(sock)
        for fd, sock in pending.items():
            epoll.unregister(fd)
            sock.close()
    epoll.close()
    return connected


def _listen(
    port: int,
    path: str,
    count: int,
    window: Any,
    ready: Queue[int],
    out: Queue[list[Delivery]],
    parent: int,
) -> None:
    """One client process: `count` listeners, measured in the window the parent sets
    (a shared pair of monotonic times) once every process has connected. It ends with
    its parent: a bench that failed never sets the window."""
    heads_by = time.monotonic() + CONNECT_SECONDS
    socks = {sock.fileno(): sock for sock in _connect(port, path, count, heads_by)}
    # Ready once every listener has its response head: Icecast accepts a connection
    # long before it reads the request (seconds, for thousands, on a busy box).
    announced = False
    epoll = select.epoll()
    head: dict[int, bytearray] = {fd: bytearray() for fd in socks}
    got = dict.fromkeys(socks, 0)
    gap = dict.fromkeys(socks, 0.0)
    gap_ended = dict.fromkeys(socks, 0.0)
    last: dict[int, float] = {}
    closed: set[int] = set()
    for fd in socks:
        epoll.register(fd, select.EPOLLIN)
    buffer = bytearray(512 * 1024)
    view = memoryview(buffer)
    stall, woke = 0.0, time.monotonic()
    while not window[1] or (now := time.monotonic()) < window[1]:
        now = time.monotonic()
        if window[1] and window[0] <= now:
            stall = max(stall, now - woke - POLL_SECONDS)
        woke = now
        for fd, _ in epoll.poll(0):
            try:
                size = socks[fd].recv_into(buffer)
            except ConnectionError:
                size = 0
            if size == 0:
                closed.add(fd)
                epoll.unregister(fd)
                continue
            if fd in head:  # the response head may come in several reads
                head[fd] += view[:size]
                end = head[fd].find(b"\r\n\r\n")
                if end < 0:
                    continue
                size = len(head.pop(fd)) - end - 4
            if window[1] and window[0] <= now:
                got[fd] += size
                if now - last.get(fd, window[0]) > gap[fd]:
                    gap[fd], gap_ended[fd] = now - last.get(fd, window[0]), now - window[0]
                last[fd] = now
        if not announced and (not head or now > heads_by):
            ready.put(len(socks) - len(head) - len(closed))
            announced = True
        if os.getppid() != parent:
            return
        time.sleep(POLL_SECONDS)
    for fd in socks:
        if fd not in closed and window[1] - last.get(fd, window[0]) > gap[fd]:
            gap[fd], gap_ended[fd] = window[1] - last.get(fd, window[0]), window[1] - window[0]
    deliveries = [Delivery(got[fd], gap[fd], fd in closed, gap_ended[fd], stall) for fd in socks]
    deliveries += [Delivery(0, window[1] - window[0], True, 0.0, stall)] * (count - len(socks))
    out.put(deliveries)
    for sock in socks.values():
        sock.close()


@dataclass
class Crowd:
    """Client processes under way: `start` sets the window once all have connected,
    `collect` gathers their figures after it, `close` ends whatever is left (use the
    crowd as a context manager). A process that dies fails the bench within a second,
    never after a timeout's minutes."""

    ready: Queue[int]
    results: Queue[list[Delivery]]
    window: Any  # multiprocessing.Array("d", 2): start and end, 0 until set
    processes: list[SpawnProcess]

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self, warmup: float, seconds: float) -> tuple[float, int]:
        """Wait until every listener is connected, then open the window after `warmup`."""
        counts = self._gather(self.ready, "connect", CONNECT_SECONDS + 30)
        start = time.monotonic() + warmup
        self.window[0], self.window[1] = start, start + seconds
        return start, sum(counts)

    def collect(self) -> list[Delivery]:
        wait = self.window[1] - time.monotonic() + COLLECT_SECONDS
        results = [d for got in self._gather(self.results, "report", wait) for d in got]
        for proc in self.processes:
            proc.join(timeout=30)
        return results

    def close(self) -> None:
        for proc in self.processes:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)

    def _gather(self, source: Queue[Any], doing: str, seconds: float) -> list[Any]:
        """One item from each process; a process that ended without sending its item
        cannot send it later, so its end fails the bench at once."""
        deadline = time.monotonic() + seconds
        items: list[Any] = []
        while len(items) < len(self.processes):
            # Taken before the get: what a process sent is in the pipe once it has ended.
            ended = [p.exitcode for p in self.processes if p.exitcode is not None]
            try:
                items.append(source.get(timeout=1.0))
                continue
            except queue.Empty:
                pass
            if len(ended) > len(items) or time.monotonic() > deadline:
                self.close()
                why = f"exit codes {ended}" if ended else f"still waiting after {seconds:.0f} s"
                raise click.ClickException(
                    f"{len(self.processes) - len(items)} of {len(self.processes)} listener "
                    f"processes did not {doing} ({why})"
                )
        return items


def listen(port: int, path: str, count: int, processes: int) -> Crowd:
    """Start `processes` client processes sharing `count` listeners of `path`.

    Spawned, not forked: a forked child copies every lock as it was at that instant,
    held ones too, and the bench may run in a process with other threads (the test
    suite's). One forked child hung for good in multiprocessing's own after-fork hooks,
    before it ran a line of ours, and the soak test waited out its timeout."""
    spawn = multiprocessing.get_context("spawn")
    crowd = Crowd(spawn.Queue(), spawn.Queue(), spawn.Array("d", 2), [])
    for n in range(processes):
        share = count // processes + (n < count % processes)
        args = (port, path, share, crowd.window, crowd.ready, crowd.results, os.getpid())
        # Daemons: an interpreter that exits (a failed bench, a test) never waits on one.
        crowd.processes.append(spawn.Process(target=_listen, args=args, daemon=True))
        crowd.processes[-1].start()
    return crowd


def first_audio(port: int, path: str) -> FirstAudio:
    """One fresh listener: milliseconds to its first body byte, and its burst."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        start = time.monotonic()
        sock.sendall(_request(path))
        data = b""
        while b"\r\n\r\n" not in data or data.endswith(b"\r\n\r\n"):
            more = sock.recv(65536)
            if not more:
                break
            data += more
        first = time.monotonic()
        sock.settimeout(0.05)
        while time.monotonic() < first + PROBE_SECONDS:
            try:
                more = sock.recv(65536)
            except TimeoutError:
                continue
            if not more:
                break
            data += more
        body = data.split(b"\r\n\r\n", 1)[1]
        return FirstAudio(round((first - start) * 1000, 1), len(body), body[:2] == b"\xff\xfb")
    finally:
        sock.close()
