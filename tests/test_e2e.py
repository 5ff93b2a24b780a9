"""A listener's view: real decoders (ffmpeg, ffprobe) and sockets against the running server."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from radio.catalog import CatalogWriter
from radio.encoder import frame_length
from radio.generators import GenerationRequest
from radio.icy import METAINT
from radio.prepare import new_track, prepare_audio, write_cache
from tests.dummies import ToneGenerator, tone_hz
from tests.support import (
    RATE,
    StartServer,
    decode,
    dominant_hz,
    on_air,
    parse_icy,
    read_icy_until_titles,
    read_stream,
    short_lineup,
    wait_until,
)

pytestmark = pytest.mark.slow

BYTE_RATE = 16000  # 128 kbps
FRAME_BYTES = 418  # one MP3 frame at 128 kbps (1152 samples, 26 ms), padded


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


def new_tone_from(pcm: np.ndarray, old_hz: float, new_hz: float) -> int:
    """The first sample where `new_hz` is louder than `old_hz`: both tones fitted by least
    squares to 20 ms windows every half millisecond, each window placed at its centre."""
    window, step = int(0.02 * RATE), int(0.0005 * RATE)
    t = np.arange(window) / RATE
    tones = [f(2 * np.pi * hz * t) for hz in (old_hz, new_hz) for f in (np.sin, np.cos)]
    windows = np.lib.stride_tricks.sliding_window_view(pcm[:, 0], window)[::step]
    fit = windows @ np.linalg.pinv(np.stack(tones, axis=1)).T
    louder = np.hypot(fit[:, 2], fit[:, 3]) > np.hypot(fit[:, 0], fit[:, 1])
    assert louder.any() and not louder[0], "no change from the old tone to the new one"
    return int(np.argmax(louder)) * step + window // 2


async def test_icy_title_arrives_within_a_quarter_second_of_the_new_audio(
    start_server: StartServer,
) -> None:
    # No crossfade: the boundary is the sample where one tone stops and the next begins.
    # 3.3 s tracks (52800 bytes) fall anywhere in the 3200-byte metadata blocks.
    client, radio = await start_server(short_lineup(track_seconds=3.3, crossfade_seconds=0))
    await on_air(radio)
    stream = await read_stream(str(client.make_url("/stream/jazz.mp3")), 8.0, icy=True)
    audio, blocks = parse_icy(stream, METAINT)
    titled = [(offset, title) for offset, title in blocks if title]
    # A change with at least one whole block of the old title before it, so the
    # old tone is surely there (the listener's first block may follow a change).
    change, new_title = next(
        (offset, title)
        for (before, _), (offset, title) in pairwise(titled)
        if offset - before >= 2 * METAINT
    )
    assert new_title.startswith("Blue Hour Jazz - ")
    pcm, err = await decode(audio)
    assert err == ""

    # The listener's bytes start on a frame, and 128 kbps is 16000 bytes a second.
    def sample(byte: int) -> int:
        return round(byte / BYTE_RATE * RATE)

    span = int(0.3 * RATE)
    old_end, new_start = sample(change - METAINT - FRAME_BYTES), sample(change + FRAME_BYTES)
    old_hz = dominant_hz(pcm[old_end - span : old_end])
    new_hz = dominant_hz(pcm[new_start : new_start + span])
    assert abs(old_hz - new_hz) >= 90  # a station's neighbours are 100 Hz apart (dummies)
    # Search from 0.1 s before the earliest place the change may be to 0.1 s after the last.
    lo, hi = old_end - sample(1600), new_start + sample(1600)
    boundary = (lo + new_tone_from(pcm[lo:hi], old_hz, new_hz)) / RATE * BYTE_RATE
    # The mark is the frame holding the new tone's first sample, and the title changes
    # in the first block after the mark: the tone begins in the block before the
    # change, give or take the frame.
    assert change - METAINT - FRAME_BYTES <= boundary <= change + FRAME_BYTES
    # What the listener sees (#9): the title no earlier than a frame before the new
    # tone, and never more than 0.25 s after it.
    assert -FRAME_BYTES / BYTE_RATE <= (change - boundary) / BYTE_RATE <= 0.25


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
        await wait_until(lambda: len(broadcast.listeners) == 1, 5, "the stalled listener")
        url = str(client.make_url("/stream/jazz.mp3"))
        reading = asyncio.create_task(read_stream(url, 14.0))
        # The stalled one is gone, the reader remains.
        await wait_until(
            lambda: len(broadcast.listeners) == 1 and broadcast.peak_listeners == 2,
            12,
            "the stalled listener dropped",
        )
        data = await reading
        # Dropped with a reset, not a graceful close that lingers with unsent bytes:
        # reading what arrived ends in ECONNRESET rather than a clean end of stream.
        stalled.setblocking(False)
        with pytest.raises(ConnectionResetError):
            while await asyncio.get_running_loop().sock_recv(stalled, 65536):
                pass
    finally:
        stalled.close()
    assert broadcast.slow_listeners == 1
    status = await (await client.get("/status-json.xsl")).json()
    jazz = next(s for s in status["icestats"]["source"] if s["listenurl"].endswith("/jazz.mp3"))
    assert jazz["slow_listeners"] == 1
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
    await wait_until(lambda: first.backlog.seconds_queued("jazz") >= 8, 20, "8 s of jazz queued")
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


async def test_a_live_bitrate_change_keeps_whole_frames_and_the_next_title(
    start_server: StartServer,
) -> None:
    client, radio = await start_server(short_lineup(track_seconds=3.3, crossfade_seconds=0))
    await on_air(radio)
    jazz = radio.station("jazz")
    playout = jazz.playout
    url = str(client.make_url("/stream/jazz.mp3"))
    # Listen until the next track's title arrives, however busy the machine is.
    reading = asyncio.create_task(read_icy_until_titles(url, 2, METAINT))
    await wait_until(lambda: jazz.broadcast.listeners, 5, "the listener")
    playout.retune(replace(playout.station, bitrate=192))
    audio, blocks = parse_icy(await reading, METAINT)
    assert len({title for _, title in blocks if title}) >= 2
    pcm, err = await decode(audio)
    assert err == "" and np.abs(pcm).max() > 0.1
    # Frame after frame from the listener's first byte: 128 kbps, then 192 kbps.
    pos, kbps = 0, []
    while pos + 4 <= len(audio):
        kbps.append(audio[pos + 2] >> 4)  # the bitrate index: 9 is 128 kbps, 11 is 192
        pos += frame_length(audio[pos : pos + 4])
    assert kbps[0] == 9 and kbps[-1] == 11 and kbps == sorted(kbps)
