"""The Ogg Opus mount: a chained Ogg that ffmpeg decodes whole, with a title per track.

One real server (two stations, 4-second tracks) serves every test here: an
ffmpeg decode of ten seconds read from connect, a listener that joins mid-track,
the headers and status entries, and an encoder that fails without taking the
MP3 mount with it. Titles are read from each logical stream's OpusTags.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mutagen._vorbis import VComment
from mutagen.ogg import OggPage

from radio.bench.encoders import encoders_command
from radio.opus import OpusEncoder, StreamTags
from tests.support import REPO, StartServer, on_air, read_stream, wait_until

pytestmark = pytest.mark.slow


def opus_tags(stream: bytes) -> list[dict[str, str]]:
    """TITLE and ARTIST of each logical stream, in order, read from its OpusTags packet."""
    pages = io.BytesIO(stream)
    found = []
    while True:
        try:
            page = OggPage(pages)
        except Exception:  # the end, or the page a listener hung up in
            return found
        for packet in page.packets:
            if packet.startswith(b"OpusTags"):
                comment = dict(VComment(packet[8:], framing=False))
                found.append({key: comment.get(key, "") for key in ("TITLE", "ARTIST")})


async def ffmpeg(*args: str, stdin: bytes) -> tuple[bytes, str]:
    """Run ffmpeg or ffprobe on `stdin`; returns stdout and what it logged as an error."""
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*args, stdin=pipe, stdout=pipe, stderr=pipe)
    out, err = await proc.communicate(stdin)
    assert proc.returncode == 0, err
    return out, err.decode()


async def decode_opus(stream: bytes) -> tuple[np.ndarray, str]:
    command = ["ffmpeg", "-v", "error", "-f", "ogg", "-i", "pipe:0", "-f", "s16le", "pipe:1"]
    out, errors = await ffmpeg(*command, stdin=stream)
    return np.frombuffer(out, dtype=np.int16).reshape(-1, 2), errors


@pytest.fixture
async def server(start_server: StartServer) -> AsyncIterator[tuple[Any, Any]]:
    # A burst of about 1.3 s at 96 kbps, well inside a 4-second track.
    client, radio = await start_server(burst_bytes=16 * 1024)
    await on_air(radio)
    yield client, radio


@asynccontextmanager
async def listening(url: str) -> AsyncIterator[bytearray]:
    """A listener reading `url` in the background for as long as the block lasts."""
    from aiohttp import ClientSession

    heard = bytearray()

    async def drain(response: Any) -> None:
        async for chunk in response.content.iter_any():
            heard.extend(chunk)

    async with ClientSession() as session, session.get(url) as response:
        reader = asyncio.create_task(drain(response))
        try:
            yield heard
        finally:
            reader.cancel()


async def read_for(response: Any, seconds: float) -> bytes:
    data = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        data += await asyncio.wait_for(response.content.readany(), timeout=5)
    return bytes(data)


async def test_ffmpeg_decodes_ten_seconds_with_a_title_per_track(
    server: tuple[Any, Any],
) -> None:
    client, _ = server
    url = f"http://127.0.0.1:{client.port}/stream/jazz.opus"
    stream = await read_stream(url, 10)
    assert stream[:4] == b"OggS" and stream[28:36] == b"OpusHead"
    pcm, errors = await decode_opus(stream)
    assert errors == ""
    assert len(pcm) >= 9 * 48000  # the burst and ten seconds of live audio, at 48 kHz
    assert np.abs(pcm).max() > 1000  # the tones, not silence
    tags = opus_tags(stream)
    titles = [t["TITLE"] for t in tags if t["TITLE"]]
    # 4-second tracks: the burst's track and at least two that began while we listened.
    assert len(titles) >= 3 and all(a != b for a, b in pairwise(titles))
    assert {t["ARTIST"] for t in tags if t["TITLE"]} == {"Blue Hour Jazz"}
    tracks = (await (await client.get("/api/tracks?station=jazz&limit=200")).json())["tracks"]
    assert set(titles) <= {t["title"] for t in tracks}


async def test_a_listener_joining_mid_track_gets_the_tracks_headers_first(
    server: tuple[Any, Any],
) -> None:
    client, radio = server
    jazz = radio.station("jazz")
    url = f"http://127.0.0.1:{client.port}/stream/jazz.opus"
    async with listening(url):  # the mount is encoded while someone listens
        await wait_until(lambda: jazz.opus.head > 0, 10, "the Opus mount on")
        stream, playing = await join_mid_track(url, jazz)
    now = jazz.opus.title.removeprefix("Blue Hour Jazz - ")
    first = opus_tags(stream)[0]["TITLE"]
    assert first in {playing, now}  # the next track may have begun as we connected
    probe = ["ffprobe", "-v", "error", "-of", "default=nw=1:nk=1", "-show_entries"]
    out, _ = await ffmpeg(*probe, "stream_tags=title", "-i", "pipe:0", stdin=stream)
    assert out.decode().strip() == first
    _, errors = await decode_opus(stream)
    assert errors == ""


async def join_mid_track(url: str, jazz: Any) -> tuple[bytes, str]:
    """A second listener's first second, joined well inside a track; and that track."""

    def mid_track() -> bool:
        # Two seconds in: the 1.3-second burst starts well after the track's headers.
        now = jazz.playout.now
        return now is not None and 2.0 < time.time() - now.started < 2.5

    # A playout that fell behind on a busy box may not have that much of the track out
    # yet; then the burst starts at the track's own headers, and we try the next track.
    for _ in range(5):
        await wait_until(mid_track, 20, "two seconds into a track")
        playing = jazz.opus.title.removeprefix("Blue Hour Jazz - ")
        stream = await read_stream(url, 1)
        assert stream[:4] == b"OggS" and stream[28:36] == b"OpusHead"
        pages = io.BytesIO(stream)
        head, tags, audio = OggPage(pages), OggPage(pages), OggPage(pages)
        assert head.serial == tags.serial == audio.serial
        if audio.position > 48000 // 2:  # the headers, then audio from well inside the track
            return stream, playing
    raise AssertionError("never joined more than half a second into a track")


async def test_the_opus_mount_is_encoded_on_demand(
    server: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody listening, no Opus encoder: it starts with the first listener, on a new
    chain named for the track on air, and stops a while after the last one leaves,
    dropping its burst, so a later listener hears nothing stale."""
    client, radio = server
    jazz = radio.station("jazz")
    assert jazz.playout.opus_encoder is None and jazz.opus.head == 0
    assert jazz.opus.title == jazz.broadcast.title  # its status names the track on air
    monkeypatch.setattr("radio.playout.OPUS_LINGER_SECONDS", 1.0)
    url = f"http://127.0.0.1:{client.port}/stream/jazz.opus"
    async with listening(url) as heard:
        await wait_until(lambda: len(heard) > 8192, 10, "Opus audio")
        assert heard[:4] == b"OggS" and heard[28:36] == b"OpusHead"
        on_air = jazz.playout.now
        assert on_air is not None and opus_tags(bytes(heard))[0]["TITLE"] in {
            on_air.track.title,
            jazz.opus.title.removeprefix("Blue Hour Jazz - "),
        }
    await wait_until(lambda: jazz.playout.opus_encoder is None, 10, "the encoder stopped")
    stopped_at = jazz.opus.head
    assert jazz.opus.tail == stopped_at  # nothing kept for a burst
    # The MP3 mount plays on; the Opus one stays still while nobody listens.
    mp3_head = jazz.broadcast.head
    await wait_until(lambda: jazz.broadcast.head > mp3_head + 16_000, 10, "MP3 audio")
    assert jazz.opus.head == stopped_at
    again = await read_stream(url, 2)
    assert again[:4] == b"OggS" and again[28:36] == b"OpusHead"  # a new chain, from now
    pages = io.BytesIO(again)
    OggPage(pages), OggPage(pages)
    assert OggPage(pages).position < 48000  # its first audio, not a stale burst


async def test_headers_status_and_a_failing_encoder(server: tuple[Any, Any]) -> None:
    client, radio = server
    head = await client.head("/stream/jazz.opus")
    assert head.status == 200 and head.headers["Content-Type"] == "audio/ogg"
    assert head.headers["ice-audio-info"] == "ice-samplerate=48000;ice-bitrate=96;ice-channels=2"
    assert head.headers["Access-Control-Allow-Origin"] == "*"
    assert "icy-metaint" not in head.headers
    missing = await client.get("/stream/nope.opus")
    assert missing.status == 404 and "error" in await missing.json()

    async with client.get("/stream/jazz.opus") as listening:
        heard = await listening.content.readexactly(4096)
        status = (await (await client.get("/status-json.xsl")).json())["icestats"]
        opus = next(s for s in status["source"] if s["listenurl"].endswith("/jazz.opus"))
        assert opus["listeners"] == 1 and opus["server_type"] == "audio/ogg"
        assert opus["title"].startswith("Blue Hour Jazz - ") and opus["bitrate"] == 96
        mp3 = next(s for s in status["source"] if s["listenurl"].endswith("/jazz.mp3"))
        assert mp3["listeners"] == 0
        stations = await (await client.get("/api/stations")).json()
        assert stations["stations"][0]["listeners"] == 1

        # The encoder breaks: the Opus listener carries on into a new chain, and the
        # MP3 mount never notices.
        playout = radio.station("jazz").playout
        broken = playout.opus_encoder

        def fail(*args: object) -> Any:
            raise RuntimeError("libopus fell over")

        broken.encode = fail  # type: ignore[method-assign]
        mp3_head = radio.station("jazz").broadcast.head
        await wait_until(lambda: playout.opus_encoder is not broken, 10, "a new encoder")
        before = radio.station("jazz").opus.head
        await wait_until(lambda: radio.station("jazz").opus.head > before, 10, "Opus again")
        assert radio.station("jazz").broadcast.head > mp3_head
        assert radio.station("jazz").task is not None and not radio.station("jazz").task.done()
        heard += await read_for(listening, 3)
    # One chunk went missing, then a new chain: the listener decodes straight on.
    pcm, errors = await decode_opus(heard)
    assert errors == "" and len(pcm) > 3 * 48000


def test_the_encoder_cuts_a_chain_at_each_start_on_page_boundaries() -> None:
    encoder = OpusEncoder(64)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(44100 * 3) / 44100)
    audio = np.repeat(tone[:, None], 2, axis=1).astype(np.float32)
    out, chains = bytearray(), []
    for n, pos in enumerate(range(0, len(audio), 11025)):
        starts = [(500, StreamTags(f"track {n}", "Station"))] if n in (2, 7) else []
        data, new = encoder.encode(audio[pos : pos + 11025], starts)
        assert not data or data[:4] == b"OggS"  # whole pages only
        chains += [(len(out) + c.index, c) for c in new]
        out += data
    out += encoder.close()
    assert [c.tags for _, c in chains] == [
        None,
        StreamTags("track 2", "Station"),
        StreamTags("track 7", "Station"),
    ]
    for offset, chain in chains:
        assert out[offset : offset + len(chain.headers)] == chain.headers
    assert [t["TITLE"] for t in opus_tags(bytes(out))[1:]] == ["track 2", "track 7"]


def test_bench_times_both_encoders_and_saves_json(tmp_path: Path) -> None:
    output = tmp_path / "encoders.json"
    args = ["--seconds", "2", "--track-seconds", "1.5", "--output", str(output)]
    args += ["--stations", str(REPO / "stations.toml")]
    result = CliRunner().invoke(encoders_command, args)
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    assert report["stations"] == 15 and set(report["formats"]) == {"mp3", "opus"}
    for figures in report["formats"].values():
        assert figures["audio_seconds"] >= 2 and figures["percent_of_a_core"] > 0


def test_quarter_second_chunks_join_without_seams_or_lost_samples() -> None:
    # The resampler and encoder keep their state from chunk to chunk: a click at each
    # seam would stand far above the codec's own even noise around a pure tone.
    encoder = OpusEncoder(96)
    tone = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(44100 * 4) / 44100)
    audio = np.repeat(tone[:, None], 2, axis=1).astype(np.float32)
    stream = b"".join(encoder.encode(audio[p : p + 11025])[0] for p in range(0, len(audio), 11025))
    stream += encoder.close()
    command = ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "pipe:1"]
    pcm = subprocess.run(command, input=stream, capture_output=True, check=True).stdout
    left = np.frombuffer(pcm, np.int16).reshape(-1, 2)[:, 0] / 32768
    assert len(left) == 4 * 48000
    middle = left[4800:-4800]  # clear of the stream's own start and end
    t = np.arange(len(middle)) / 48000
    basis = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)], axis=1)
    fit, *_ = np.linalg.lstsq(basis, middle, rcond=None)
    residual = (middle - basis @ fit)[: len(middle) // 480 * 480].reshape(-1, 480)
    rms = np.sqrt((residual**2).mean(axis=1))  # per 10 ms
    assert abs(np.hypot(*fit) - 0.3) < 0.01
    assert rms.max() < 2 * np.median(rms) and rms.max() < 0.3 / 100  # no seam; 40 dB down
