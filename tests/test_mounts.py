"""A mount as clients that read it raw see it: raw sockets, HTTP/1.0 and 1.1, streamripper, caps."""

from __future__ import annotations

import asyncio
import re
from itertools import pairwise
from pathlib import Path

import pytest

from radio.encoder import frame_length
from radio.errors import EncoderError
from tests.support import (
    RATE,
    StartServer,
    decode,
    on_air,
    parse_icy,
    short_lineup,
    wait_until,
)

pytestmark = pytest.mark.slow

BYTE_RATE = 16000  # 128 kbps
METAINT = 3200  # 0.2 s at 128 kbps (radio/icy.py)


async def raw_get(
    port: int, path: str, seconds: float, version: str = "1.1", icy: bool = False
) -> tuple[str, dict[str, str], bytes]:
    """The status line, headers and body bytes exactly as a raw socket reads them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nUser-Agent: raw\r\n"
    writer.write((request + ("Icy-MetaData: 1\r\n" if icy else "") + "\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if line)
    body = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    try:
        while (left := end - loop.time()) > 0:
            with_timeout = await asyncio.wait_for(reader.read(65536), timeout=left + 5)
            if not with_timeout:
                break
            body += with_timeout
    finally:
        writer.close()
    return head[0], {k.lower(): v for k, v in headers.items()}, bytes(body)


def unbroken_frames(mp3: bytes) -> int:
    """How many MP3 frames follow one another from byte 0; fails on a broken chain."""
    pos = count = 0
    while len(mp3) - pos >= 4:
        try:
            pos += frame_length(mp3[pos : pos + 4])
        except EncoderError as exc:
            raise AssertionError(f"frame chain broken at byte {pos} of {len(mp3)}") from exc
        count += 1
    return count


async def test_a_raw_http11_icy_reader_gets_whole_frames_and_clean_titles(
    start_server: StartServer,
) -> None:
    client, radio = await start_server(short_lineup(track_seconds=2.5))
    await on_air(radio)
    status, headers, body = await raw_get(
        client.port, "/stream/jazz.mp3", seconds=8.0, version="1.1", icy=True
    )
    assert status == "HTTP/1.1 200 OK"
    assert "transfer-encoding" not in headers and "content-length" not in headers
    assert headers["connection"] == "close"  # no keep-alive on a mount, as Icecast
    assert int(headers["icy-metaint"]) == METAINT
    audio, blocks = parse_icy(body, METAINT)
    # Every byte between blocks is MP3 frames, chained from the first byte on.
    assert unbroken_frames(audio) > (len(audio) - 2000) // 418
    # The burst already holds several titles; the live part brings at least three more.
    titles = [title for _, title in blocks if title is not None]
    assert len(titles) >= 4 and all(t.startswith("Blue Hour Jazz - ") for t in titles)
    assert all(a != b for a, b in pairwise(titles))


@pytest.mark.parametrize("version", ["1.0", "1.1"])
async def test_every_http_version_gets_raw_bytes_and_a_long_burst_on_a_frame(
    start_server: StartServer, version: str
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    await wait_until(lambda: radio.station("jazz").broadcast.head > 4 * BYTE_RATE, 10, "4 s")
    status, headers, body = await raw_get(client.port, "/stream/jazz.mp3", 0.5, version)
    assert status == f"HTTP/{version} 200 OK"
    assert "transfer-encoding" not in headers
    assert body[:2] == b"\xff\xfb"  # starts on an MPEG-1 Layer III frame header
    assert len(body) >= 3 * BYTE_RATE  # at least three seconds of audio in the burst
    unbroken_frames(body)


async def test_caps_answer_503_with_a_json_error(start_server: StartServer) -> None:
    client, radio = await start_server(max_listeners_per_mount=1, max_listeners=2)
    await on_air(radio)
    async with client.get("/stream/jazz.mp3") as first:
        await first.content.readexactly(100)
        full = await client.get("/stream/jazz.mp3")
        assert full.status == 503 and "max_listeners_per_mount" in (await full.json())["error"]
        async with client.get("/stream/metal.mp3") as second:
            await second.content.readexactly(100)
            everyone = await client.get("/stream/metal.mp3")
            assert everyone.status == 503
            assert "server has its maximum of 2" in (await everyone.json())["error"]
    # A freed place is taken again.
    jazz = radio.station("jazz").broadcast
    await wait_until(lambda: not jazz.listeners, 5, "the first listener gone")
    async with client.get("/stream/jazz.mp3") as again:
        assert again.status == 200


async def test_streamripper_splits_a_station_into_complete_named_tracks(
    start_server: StartServer, tmp_path: Path
) -> None:
    # streamripper splits where the title changes, so neighbouring tracks must not share
    # one: titles come from a mood and a key drawn per track (a clean clone's run drew
    # the same title twice in a row from the three short moods once).
    moods = ", ".join(f'"mood{n}"' for n in range(500))
    keys = ", ".join(f'"{note} major"' for note in "ABCDEFG")
    lineup = short_lineup(track_seconds=3).replace(
        'mood = ["smoky", "warm", "wistful"]', f"mood = [{moods}]\nkey = [{keys}]"
    )
    client, radio = await start_server(lineup)
    await on_air(radio)
    url = str(client.make_url("/stream/jazz.mp3"))
    # --xs-none: split where the title changes, with no search for a silence (a
    # crossfade has none); -i: no ID3 tags, so the files are the stream's bytes.
    proc = await asyncio.create_subprocess_exec(
        "streamripper", url, "-d", str(tmp_path / "rip"), "-s", "-l", "14",
        "--xs-none", "-i", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=40)
    assert proc.returncode == 0, out.decode(errors="replace")
    complete = sorted((tmp_path / "rip").glob("*.mp3"))
    assert len(complete) >= 2, out.decode(errors="replace")
    for path in complete:
        assert re.fullmatch(r"Blue Hour Jazz - .+\.mp3", path.name), path.name
        # streamripper cuts at the metadata block, not on a frame: ffmpeg resyncs.
        pcm, _ = await decode(path.read_bytes())
        assert 2.0 < len(pcm) / RATE < 3.5  # a whole 3 s track less its crossfade, no sliver
