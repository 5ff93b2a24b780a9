"""A listener's view: real decoders (ffmpeg, ffprobe) and sockets against the running server."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from radio.catalog import CatalogWriter
from radio.generators.base import GenerationRequest
from radio.prepare import new_track, prepare_audio, write_cache
from tests.dummies import ToneGenerator, tone_hz
from tests.support import (
    RATE,
    StartServer,
    decode,
    dominant_hz,
    on_air,
    parse_icy,
    read_stream,
    short_lineup,
)

pytestmark = pytest.mark.slow


async def test_ffmpeg_decodes_ten_seconds_of_the_stream_without_errors(
    start_server: StartServer,
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    url = str(client.make_url("/stream/jazz.mp3"))
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-t", "10.5", "-i", url, "-f", "s16le", "-ac", "2", "pipe:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0 and err.decode().strip() == ""
    assert len(out) >= 10 * RATE * 4
    pcm = np.frombuffer(out, np.int16)
    assert np.abs(pcm).max() > 1000  # music (tones), not silence


async def test_ffprobe_reports_mp3_at_the_configured_rate(
    start_server: StartServer, tmp_path: Path
) -> None:
    client, radio = await start_server(short_lineup(bitrate=192))
    await on_air(radio)
    capture = tmp_path / "capture.mp3"
    capture.write_bytes(await read_stream(str(client.make_url("/stream/metal.mp3")), 2.0))
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_streams", "-of", "json", str(capture),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    stream = json.loads(out)["streams"][0]
    assert err == b""
    assert stream["codec_name"] == "mp3"
    assert (int(stream["sample_rate"]), stream["channels"]) == (44100, 2)
    assert int(stream["bit_rate"]) == 192000


async def test_icy_title_changes_exactly_at_the_track_boundary(start_server: StartServer) -> None:
    # No crossfade: the boundary is the sample where one tone stops and the next begins.
    client, radio = await start_server(short_lineup(track_seconds=3, crossfade_seconds=0))
    await on_air(radio)
    stream = await read_stream(str(client.make_url("/stream/jazz.mp3")), 7.0, icy=True)
    audio, blocks = parse_icy(stream, 16000)
    titled = [(offset, title) for offset, title in blocks if title]
    assert len(titled) >= 2, blocks
    change_offset, new_title = titled[1]
    pcm, err = await decode(audio)
    assert err == ""

    # Byte offsets map to time exactly: 128 kbps CBR is 16000 bytes a second.
    def hz_at(byte: float) -> float:
        start = int(byte / 16000 * RATE)
        return dominant_hz(pcm[start : start + int(0.1 * RATE)])

    old_hz, new_hz = hz_at(change_offset - 16000 - 8000), hz_at(change_offset + 8000)
    assert abs(old_hz - new_hz) >= 40
    # Find the first byte whose audio is the new tone, in 5 ms steps from well before.
    step = 80  # bytes: 5 ms
    boundary = next(
        b
        for b in range(change_offset - 24000, change_offset + 8000, step)
        if abs(hz_at(b) - new_hz) < abs(hz_at(b) - old_hz)
    )
    # The new title is announced in the first block after the new track's first byte:
    # the boundary lies in the metaint before that block (give or take codec delay
    # and the 100 ms analysis window).
    assert change_offset - 16000 - 2000 <= boundary <= change_offset
    assert new_title.startswith("Blue Hour Jazz - ")


async def test_two_listeners_joining_at_once_receive_identical_bytes(
    start_server: StartServer,
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    url = str(client.make_url("/stream/jazz.mp3"))
    first, second = await asyncio.gather(read_stream(url, 3.0), read_stream(url, 3.0))
    # Joining within a few ms of each other they may straddle one publish; align on content.
    shorter, longer = sorted((first, second), key=len)
    start = longer.find(shorter[:4096])
    assert start >= 0
    overlap = min(len(shorter), len(longer) - start)
    assert overlap > 40_000
    assert longer[start : start + overlap] == shorter[:overlap]


async def test_a_stalled_listener_is_dropped_while_another_keeps_real_time(
    start_server: StartServer,
) -> None:
    client, radio = await start_server(short_lineup(bitrate=320), queue_limit_bytes=64 * 1024)
    await on_air(radio)
    broadcast = radio.station("jazz").broadcast
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stalled.connect((client.host, client.port))
    stalled.sendall(b"GET /stream/jazz.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
    try:
        await asyncio.sleep(0.5)
        assert len(broadcast.listeners) == 1
        url = str(client.make_url("/stream/jazz.mp3"))
        reading = asyncio.create_task(read_stream(url, 14.0))
        for _ in range(120):
            await asyncio.sleep(0.1)
            if len(broadcast.listeners) == 1 and broadcast.peak_listeners == 2:
                break
        assert len(broadcast.listeners) == 1  # the stalled one is gone, the reader remains
        data = await reading
    finally:
        stalled.close()
    burst = 64 * 1024
    rate = (len(data) - burst) / 14.0
    assert rate > 0.9 * 40_000  # 320 kbps in bytes a second, undisturbed


async def test_a_station_with_an_empty_backlog_keeps_sending_audio(
    start_server: StartServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    catalog = CatalogWriter(cache / "catalog.db").open()
    request = GenerationRequest("jazz", "Jazz", "warm jazz", 5, 3.0)
    generated = ToneGenerator().generate([request])[0]
    prepared = prepare_audio(generated)
    row = new_track(
        generated, prepared, write_cache(prepared, cache, "jazz"), "Old Tune", "tone", "t"
    )
    track_id = catalog.run_sync(lambda c: c.add_track(row))
    catalog.run_sync(lambda c: c.start_play(track_id, "jazz", 0))  # played before: only a replay
    catalog.close()
    broken = ToneGenerator(fail=True)
    client, radio = await start_server(short_lineup(track_seconds=3), generator=broken, cache=cache)
    stream = await read_stream(str(client.make_url("/stream/jazz.mp3")), 8.0)
    assert broken.calls  # it was asked, and failed
    assert radio.backlog.replays["jazz"] >= 2  # replayed the one track over and over
    assert len(stream) > 0.9 * 8 * 16000
    pcm, err = await decode(stream)
    assert err == ""
    assert dominant_hz(pcm[-RATE : -RATE // 2]) == pytest.approx(tone_hz(5), abs=15)
    # metal has never had a track: it still sends (silent) MP3 at the full rate.
    silent = await read_stream(str(client.make_url("/stream/metal.mp3")), 3.0)
    assert len(silent) > 0.9 * 3 * 16000 and (await decode(silent))[1] == ""


async def test_a_restart_plays_the_unplayed_backlog(
    start_server: StartServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first_client, first = await start_server(short_lineup(backlog_minutes=0.4), cache=cache)
    for _ in range(200):
        await asyncio.sleep(0.1)
        if first.backlog.seconds_queued("jazz") >= 8:
            break
    await first_client.close()  # a full, orderly shutdown
    catalog = CatalogWriter(cache / "catalog.db").open()
    waiting = [r.id for r in catalog.run_sync(lambda c: c.unplayed()) if r.station == "jazz"]
    before = catalog.run_sync(lambda c: c.count())
    catalog.close()
    assert len(waiting) >= 2

    _, second = await start_server(
        short_lineup(backlog_minutes=0.4), generator=ToneGenerator(fail=True), cache=cache
    )
    await on_air(second)
    playout = second.station("jazz").playout
    assert playout.now is not None and playout.now.track.id == waiting[0]
    upcoming = [playout.mixer.next.track.id] if playout.mixer.next else []
    assert upcoming + [t.id for t in second.backlog.queued("jazz")] == waiting[1:]
    assert second.catalog.run_sync(lambda c: c.count()) == before  # nothing regenerated
