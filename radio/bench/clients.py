"""A mount's address and a count in, per-listener delivery figures out: loopback listeners
spread over a few processes, so thousands of them do not cost one Python core.

Each process connects its share with plain sockets, then wakes every POLL_SECONDS
and reads whatever every ready socket holds (epoll), as a player draining its
buffer would; waking per arriving packet would cost the client more than either
server. Its figures: bytes inside the measured window, the longest gap between
two reads that brought bytes, and whether the server closed the connection.
Fresh probes measure a new listener's first byte and its burst meanwhile.

The client processes are plain interpreters running this module (`python -m
radio.bench.clients PORT PATH COUNT`), spoken to by lines on their stdin and stdout,
not multiprocessing children. A forked child copies every lock as it stood, held
ones too, and the bench may run in a process with other threads (a test suite's):
one forked client hung for good in multiprocessing's own after-fork hooks before it
ran a line of ours. A spawned one imports the parent's main module again, which for
`radio bench` is the whole CLI: 3.3 s of CPU a client, and fifteen of them at the
start of a soak made every station late. A client ends when its stdin does, so it
never outlives the bench that started it, killed or not.
"""

from __future__ import annotations

import json
import select
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import IO, NoReturn

import click

POLL_SECONDS = 0.1
CONNECT_SECONDS = 300.0  # Icecast took 20 s per 1,000 here, under load
CONNECT_BATCH = 25
CONNECT_POLL_SECONDS = 0.01  # between reads while connecting
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


class _Connector:
    """Connects listeners a batch at a time, non-blocking, one step per call, so that the
    process reads the listeners it has while it connects the rest. (Connected first and
    read after, the first ones stopped reading for the whole connect: on a busy box that
    outlasted our server's STALL_SECONDS, and it rightly dropped them as stalled.) A batch
    at a time, because a burst of thousands of connects overflows a server's accept
    queue (Icecast's), and each dropped one waits out TCP's backoff."""

    def __init__(self, port: int, path: str, count: int, deadline: float) -> None:
        self.port, self.request, self.deadline = port, _request(path), deadline
        self.left = count  # not yet begun
        self.pending: dict[int, socket.socket] = {}
        self.epoll = select.epoll()

    @property
    def done(self) -> bool:
        return not self.left and not self.pending

    def step(self, timeout: float) -> list[socket.socket]:
        """Those connected within `timeout`, with their request sent."""
        if not self.pending:
            for _ in range(min(CONNECT_BATCH, self.left)):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", self.port))
                self.pending[sock.fileno()] = sock
                self.epoll.register(sock.fileno(), select.EPOLLOUT)
            self.left -= len(self.pending)
        connected = []
        for fd, _ in self.epoll.poll(timeout):
            sock = self.pending.pop(fd)
            self.epoll.unregister(fd)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                sock.close()
                continue
            try:
                sock.send(self.request)
            except OSError:  # reset before the request went: a listener short, not a
                sock.close()  # dead client process the parent would wait on for good
                continue
            connected.append(sock)
        if time.monotonic() > self.deadline:  # the rest are given up
            for fd, sock in self.pending.items():
                self.epoll.unregister(fd)
                sock.close()
            self.pending.clear()
            self.left = 0
        if self.done:
            self.epoll.close()
        return connected


def _listen(port: int, path: str, count: int, control: IO[str], report: IO[str]) -> None:
    """One client process: `count` listeners. It says `ready N` once every listener has
    its response head (or the connect time is up), reads the window to measure as a line
    `START END` (monotonic seconds, the same clock in every process), and says its
    figures as one line of JSON after it. It stops when `control` ends: its bench has
    gone, whether it failed or was killed."""
    heads_by = time.monotonic() + CONNECT_SECONDS
    connector = _Connector(port, path, count, heads_by)
    socks: dict[int, socket.socket] = {}
    # Ready once every listener has its response head: Icecast accepts a connection
    # long before it reads the request (seconds, for thousands, on a busy box).
    announced = False
    epoll = select.epoll()
    head: dict[int, bytearray] = {}
    got: dict[int, int] = {}
    gap: dict[int, float] = {}
    gap_ended: dict[int, float] = {}
    last: dict[int, float] = {}
    closed: set[int] = set()
    epoll.register(control.fileno(), select.EPOLLIN)
    window: tuple[float, float] | None = None
    buffer = bytearray(512 * 1024)
    view = memoryview(buffer)
    stall, woke = 0.0, time.monotonic()
    while window is None or time.monotonic() < window[1]:
        now = time.monotonic()
        measuring = window is not None and window[0] <= now
        if measuring:
            stall = max(stall, now - woke - POLL_SECONDS)
        woke = now
        if not connector.done:
            for sock in connector.step(CONNECT_POLL_SECONDS):
                fd = sock.fileno()
                socks[fd], head[fd], got[fd], gap[fd], gap_ended[fd] = sock, bytearray(), 0, 0, 0
                epoll.register(fd, select.EPOLLIN)
        for fd, _ in epoll.poll(0):
            if fd == control.fileno():
                line = control.readline()
                if not line:
                    return
                opens, closes = line.split()
                window = (float(opens), float(closes))
                continue
            try:
                size = socks[fd].recv_into(buffer)
            except ConnectionError:
                size = 0
            if size == 0:
                closed.add(fd)
                head.pop(fd, None)  # closed before its head came: not waited for
                epoll.unregister(fd)
                continue
            if fd in head:  # the response head may come in several reads
                head[fd] += view[:size]
                blank = head[fd].find(b"\r\n\r\n")
                if blank < 0:
                    continue
                size = len(head.pop(fd)) - blank - 4
            if measuring:
                assert window is not None
                got[fd] += size
                if now - last.get(fd, window[0]) > gap[fd]:
                    gap[fd], gap_ended[fd] = now - last.get(fd, window[0]), now - window[0]
                last[fd] = now
        if not announced and connector.done and (not head or now > heads_by):
            print(f"ready {len(socks) - len(head) - len(closed)}", file=report, flush=True)
            announced = True
        if connector.done:
            time.sleep(POLL_SECONDS)
    start, end = window
    for fd in socks:
        if fd not in closed and end - last.get(fd, start) > gap[fd]:
            gap[fd], gap_ended[fd] = end - last.get(fd, start), end - start
    deliveries = [Delivery(got[fd], gap[fd], fd in closed, gap_ended[fd], stall) for fd in socks]
    deliveries += [Delivery(0, end - start, True, 0.0, stall)] * (count - len(socks))
    print(json.dumps([asdict(d) for d in deliveries]), file=report, flush=True)
    for sock in socks.values():
        sock.close()


@dataclass
class Crowd:
    """Client processes under way: `start` sets the window once all have connected,
    `collect` gathers their figures after it, `close` ends whatever is left (use the
    crowd as a context manager). A process that dies fails the bench at once, never
    after a timeout's minutes."""

    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self, warmup: float, seconds: float) -> tuple[float, int]:
        """Wait until every listener is connected, then open the window after `warmup`."""
        lines = self._gather("connect", CONNECT_SECONDS + 30)
        start = time.monotonic() + warmup
        self.window = (start, start + seconds)
        for proc in self.processes:
            assert proc.stdin is not None
            proc.stdin.write(f"{start!r} {start + seconds!r}\n")
            proc.stdin.flush()
        return start, sum(int(line.split()[1]) for line in lines)

    def collect(self) -> list[Delivery]:
        wait = self.window[1] - time.monotonic() + COLLECT_SECONDS
        lines = self._gather("report", wait)
        for proc in self.processes:
            proc.wait(timeout=30)
        return [Delivery(**figures) for line in lines for figures in json.loads(line)]

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    def _gather(self, doing: str, seconds: float) -> list[str]:
        """A line from each process, in their order; a process that ends first (its
        stdout closed before the line) fails the bench at once."""
        deadline = time.monotonic() + seconds
        lines: dict[int, str] = {}
        with selectors.DefaultSelector() as selector:
            for n, proc in enumerate(self.processes):
                assert proc.stdout is not None
                selector.register(proc.stdout, selectors.EVENT_READ, n)
            while len(lines) < len(self.processes):
                for key, _ in selector.select(timeout=1.0):
                    selector.unregister(key.fileobj)
                    line = self.processes[key.data].stdout.readline()
                    if not line:
                        self._fail(doing, f"exit code {self.processes[key.data].wait()}")
                    lines[key.data] = line
                if len(lines) < len(self.processes) and time.monotonic() > deadline:
                    self._fail(doing, f"still waiting after {seconds:.0f} s")
        return [lines[n] for n in range(len(self.processes))]

    def _fail(self, doing: str, why: str) -> NoReturn:
        self.close()
        raise click.ClickException(f"a listener process did not {doing} ({why})")


def listen(port: int, path: str, count: int, processes: int) -> Crowd:
    """Start `processes` client processes sharing `count` listeners of `path`."""
    crowd = Crowd()
    for n in range(processes):
        share = count // processes + (n < count % processes)
        command = [sys.executable, "-m", __name__, str(port), path, str(share)]
        crowd.processes.append(
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
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


if __name__ == "__main__":
    _listen(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.stdin, sys.stdout)
