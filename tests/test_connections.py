"""A real `radio serve` at a 1,024 descriptor limit under thousands of idle sockets."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import ClientSession, ClientTimeout

from radio.server.app import REQUEST_TIMEOUT_SECONDS
from tests.support import RATE, StartServer, decode, short_lineup, wait_until

FD_LIMIT = 1024
IDLE_SOCKETS = 3000


@pytest.mark.parametrize("sent", [b"", b"GET /api/stati"], ids=["nothing", "half a line"])
async def test_an_unfinished_request_is_closed_within_seconds(
    start_server: StartServer, sent: bytes
) -> None:
    client, _ = await start_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(sent)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT_SECONDS + 5) == b""
    assert loop.time() - started < REQUEST_TIMEOUT_SECONDS + 2  # not aiohttp's 75 s
    writer.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def low_fd_limit() -> None:
    """Runs in the server's process before exec: the common service default."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup(track_seconds=8))
    log = tmp_path / "serve.log"
    port = free_port()
    command = [sys.executable, "-m", "radio", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--stations", str(stations)]
    command += ["--cache", str(tmp_path / "cache"), "--generator", "synth"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=out, preexec_fn=low_fd_limit)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextlib.contextmanager
def idle_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that never send a byte (some wait in the kernel's queue)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 1024)), hard))
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def answers(session: ClientSession, url: str) -> bool:
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        async with session.get(url, timeout=ClientTimeout(total=3)) as response:
            return response.status == 200
    return False


@pytest.mark.slow
async def test_idle_sockets_at_a_low_fd_limit_do_not_take_the_radio_down(
    serve: tuple[str, Path],
) -> None:
    base, log = serve
    port = int(base.rsplit(":", 1)[1])
    async with ClientSession() as session:

        async def on_air() -> bool:
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                async with session.get(f"{base}/api/stations") as response:
                    body = await response.json()
                    return all(s.get("now_playing") for s in body["stations"])
            return False

        await wait_until(on_air, 60, "the server up with every station on air")
        seconds = 12.0
        stream = await session.get(f"{base}/stream/jazz.mp3")
        listening = asyncio.create_task(read_for(stream, seconds))
        with idle_sockets(port, IDLE_SOCKETS):
            # The API answers while the idle sockets are held (they are closed after a
            # few seconds each, so the queue behind them drains).
            await wait_until(lambda: answers(session, f"{base}/api/stations"), 15, "the API")
            data, gaps, steady = await listening
        stream.close()
    text = log.read_text()
    assert f"open files: limit {FD_LIMIT} (the hard limit)" in text
    # The listener kept real time once its burst was in (the burst alone is seconds of
    # audio, which would hide a slow stream), and no long gap between reads.
    assert steady > 0.9 * 128_000 / 8, steady
    assert max(gaps) < 2.0, max(gaps)
    # No station went silent: no second of digital silence in what the listener heard.
    pcm, _ = await decode(data)
    pcm = pcm[5 * RATE :]  # the burst may hold the silence from before the first track
    blocks = pcm[: len(pcm) // RATE * RATE].reshape(-1, RATE, 2)
    assert np.abs(blocks).max(axis=(1, 2)).min() > 0.0
    # The reserve kept the stations' files: nothing failed to open, nothing flooded the log.
    assert "cannot open track" not in text and "not used" not in text
    assert "Traceback" not in text
    assert "connections refused:" in text and text.count("connections refused:") <= 2


BURST_SETTLED_SECONDS = 2.0  # the burst is in well before this; then only real time


async def read_for(stream: object, seconds: float) -> tuple[bytes, list[float], float]:
    """What a listener read in `seconds`, the gaps between its reads, and its bytes
    per second from BURST_SETTLED_SECONDS on."""
    from aiohttp import ClientResponse

    assert isinstance(stream, ClientResponse)
    loop = asyncio.get_running_loop()
    data, gaps, last = bytearray(), [0.0], loop.time()
    settled, end = last + BURST_SETTLED_SECONDS, last + seconds
    settled_at: tuple[float, int] | None = None
    while loop.time() < end:
        data += await asyncio.wait_for(stream.content.readany(), timeout=10)
        now = loop.time()
        gaps.append(now - last)
        last = now
        if settled_at is None and now >= settled:
            settled_at = (now, len(data))
    assert settled_at is not None and last > settled_at[0]
    return bytes(data), gaps, (len(data) - settled_at[1]) / (last - settled_at[0])
