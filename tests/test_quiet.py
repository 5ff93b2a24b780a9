"""Clients that hang up and malformed requests, sent with raw sockets: the log stays quiet."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import pytest

from radio.server.quiet import SERVER_LOGGER, QuietServerLog
from tests.support import StartServer, on_air, wait_until

STREAM = b"GET /stream/jazz.mp3 HTTP/1.1\r\nHost: x\r\n\r\n"
HANG_UPS = [
    (b"", False),  # connect, then close
    (b"", True),  # connect, then reset
    (b"GET /stream/jazz.mp3 HTTP/1.1\r\nHost: x\r\n", False),  # during the headers
    (b"GET /stream/jazz.mp3 HTTP/1.1\r\nHost: x\r\n", True),
    (STREAM, False),  # before the response's headers
    (STREAM, True),
]
MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\x01\r\n\r\n",
]


async def send(port: int, data: bytes, reset: bool, read: bool = False) -> None:
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        if data:
            await loop.sock_sendall(sock, data)
        if read:  # wait for the answer, so the server has handled the request
            await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=10)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the HTTP side logged (a busy box may add playout's lateness warnings: not ours)."""
    return [
        r
        for r in caplog.records
        if r.name == SERVER_LOGGER
        or (r.name.startswith("aiohttp") and r.levelno >= logging.WARNING)
    ]


async def test_a_client_hanging_up_is_not_an_error(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    caplog.set_level(logging.INFO)
    for data, reset in HANG_UPS:
        await send(client.port, data, reset)

    def streams_handled() -> bool:
        access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
        return sum("/stream/jazz.mp3" in line for line in access) >= 2

    await wait_until(streams_handled, 10, "both stream requests handled")
    assert server_records(caplog) == []


async def test_malformed_requests_log_one_short_line_each(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = await start_server()
    caplog.set_level(logging.INFO)
    for data in MALFORMED:
        await send(client.port, data, reset=False, read=True)
    records = server_records(caplog)
    assert len(records) == len(MALFORMED)
    for record in records:
        line = record.getMessage()
        assert record.levelno == logging.INFO and record.exc_info is None
        assert line.startswith("malformed request from 127.0.0.1: 400 ")
        assert "\n" not in line and len(line) < 120 and "aaaa" not in line


def test_malformed_request_lines_are_rate_limited() -> None:
    now = [0.0]
    quiet = QuietServerLog(per_minute=3, clock=lambda: now[0])
    logger = logging.getLogger("test.quiet")
    from aiohttp.http_exceptions import BadStatusLine

    def record() -> logging.LogRecord:
        error = BadStatusLine("HTTP/9.9")
        return logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("10.0.0.1",),
            (type(error), error, None),
        )

    kept = [r for r in (record() for _ in range(10)) if quiet.filter(r)]
    assert len(kept) == 3
    now[0] = 61.0
    later = record()
    assert quiet.filter(later)
    assert later.getMessage().endswith("(7 more not logged)")
    reset = ConnectionResetError("gone")
    hung_up = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 1, "x", (), (type(reset), reset, None)
    )
    assert not quiet.filter(hung_up)
