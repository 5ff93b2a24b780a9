"""HLS: segments cut from the MP3 broadcast, the live playlist and its window, caching
headers, titles as timed ID3 that ffmpeg reads change by change, listener counting
and the 404s of bad HLS requests, against a real server and real ffmpeg/ffprobe."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3

from radio.encoder import Mp3Encoder
from radio.hls import (
    KEPT_SEGMENTS,
    MUXER_OPTIONS,
    SEGMENT_FRAMES,
    SEGMENT_SECONDS,
    WINDOW_SEGMENTS,
    HlsListeners,
    HlsStream,
    id3_title,
    mux_segment,
    playlist,
    split_frames,
)
from tests.support import RATE, StartServer, on_air, wait_until

MUX_DELAY = 2 * int(MUXER_OPTIONS["max_delay"]) * 90000 // 1_000_000

# An MPEG-1 Layer III header, 128 kbps, 44.1 kHz, no padding: a 417-byte frame.
FAKE_FRAME = bytes.fromhex("fffb9000") + bytes(413)


def tone_mp3(seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    data, _ = Mp3Encoder[str]().encode(np.stack([tone, tone], axis=1))
    return data


def titles_in(data: bytes) -> list[str]:
    """The TIT2 of each ID3 tag in a stream of concatenated tags."""
    titles = []
    for match in re.finditer(b"ID3", data):
        try:
            titles.append(str(ID3(io.BytesIO(data[match.start() :]))["TIT2"].text[0]))
        except Exception:  # "ID3" inside a tag's text or a torn tag
            continue
    return titles


def tit2_frames(data: bytes) -> list[str]:
    """The text of each ID3v2.4 TIT2 frame in `data`. Debian's ffmpeg 5.1 hands a timed
    ID3 packet on without its first 5 bytes (it takes them for the AU cell header of a
    0xFC metadata stream; ours is private_stream_1, 0xBD, as Apple's timed metadata
    spec has it, and PyAV's newer libavformat returns whole tags), so frames are read
    without the tag header."""
    titles = []
    for match in re.finditer(rb"TIT2(.{4})\x00\x00\x03", data, re.DOTALL):
        size = 0
        for byte in match.group(1):  # a syncsafe integer: 7 bits a byte
            size = size << 7 | byte
        text = data[match.end() : match.end() + size - 1]
        titles.append(text.rstrip(b"\x00").decode())
    return titles


def changes(titles: list[str]) -> list[str]:
    return [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]


async def ffprobe(path: Path, *options: str) -> dict[str, object]:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-of", "json", *options, str(path), stdout=pipe, stderr=pipe
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0 and not err, err
    result: dict[str, object] = json.loads(out)
    return result


async def test_a_segment_is_mp3_in_mpegts_with_timed_id3(tmp_path: Path) -> None:
    frames = split_frames(tone_mp3(3.0))[:SEGMENT_FRAMES]
    path = tmp_path / "segment.ts"
    path.write_bytes(mux_segment(frames, 500, [(0, "Jazz - One"), (40, "Jazz - Two")]))
    probe = await ffprobe(path, "-show_streams", "-show_packets", "-show_data")
    streams = probe["streams"]
    assert isinstance(streams, list)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("audio", "mp3"),
        ("data", "timed_id3"),
    ]
    packets = probe["packets"]
    assert isinstance(packets, list)
    audio = [p for p in packets if p["codec_type"] == "audio"]
    tags = [p for p in packets if p["codec_type"] == "data"]
    assert len(audio) == SEGMENT_FRAMES
    # Timestamps carry on from the stream's frame 500, so segments play back to back;
    # each tag sits at the frame its track starts on. (The muxer adds twice its
    # max_delay to every timestamp alike.)
    first = 500 * 1152 * 90000 // RATE + MUX_DELAY
    assert [int(t["pts"]) for t in tags] == [first, 540 * 1152 * 90000 // RATE + MUX_DELAY]
    assert int(audio[0]["pts"]) == first
    # Frames gather into PES packets: TS costs little over the MP3 itself.
    assert path.stat().st_size < 1.15 * sum(len(f) for f in frames)
    assert [str(ID3(io.BytesIO(id3_title(t)))["TIT2"]) for t in ("é ü",)] == ["é ü"]


async def test_the_window_numbers_and_dates_its_segments() -> None:
    hls = HlsStream()
    start = 1_800_000_000.0
    chunk = FAKE_FRAME * 10  # what playout publishes every quarter second or so
    chunks = (KEPT_SEGMENTS + 6) * SEGMENT_FRAMES // 10
    for n in range(chunks):
        marks = [(0, f"track {n // 50}")] if n % 50 == 0 else []
        hls.feed(chunk, marks, start + n * 10 * 1152 / RATE)
        await asyncio.sleep(0)
    await hls.close()
    kept = list(hls.segments)
    assert len(kept) == KEPT_SEGMENTS  # bounded: old segments fall out
    sequences = [s.sequence for s in kept]
    assert sequences == list(range(sequences[0], sequences[0] + KEPT_SEGMENTS))
    assert sequences[-1] == int(start / SEGMENT_SECONDS) + 2 + chunks // 10 - 1
    window = hls.playlist_segments
    assert len(window) == WINDOW_SEGMENTS and WINDOW_SEGMENTS * SEGMENT_SECONDS >= 60
    text = playlist(window)
    lines = text.splitlines()
    assert lines[:4] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:3",
        f"#EXT-X-MEDIA-SEQUENCE:{window[0].sequence}",
    ]
    assert [line for line in lines if line.endswith(".ts")] == [f"{s.sequence}.ts" for s in window]
    assert all(f"#EXTINF:{SEGMENT_SECONDS:.3f}," in text for _ in window)
    dates = [
        datetime.fromisoformat(line.split(":", 1)[1]).timestamp()
        for line in lines
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:")
    ]
    assert len(dates) == WINDOW_SEGMENTS
    assert np.allclose(np.diff(dates), SEGMENT_SECONDS, atol=0.002)
    assert dates[0] == pytest.approx(window[0].starts_at, abs=0.001)


async def test_titles_open_every_segment_and_mark_each_track_start(tmp_path: Path) -> None:
    hls = HlsStream()
    frames = split_frames(tone_mp3(6.0))
    cut = 130 * 0 + len(b"".join(frames[:130]))  # track two starts at frame 130
    data = b"".join(frames[: 2 * SEGMENT_FRAMES])
    hls.feed(data, [(0, "Jazz - One"), (cut, "Jazz - Two")], 1_800_000_000.0)
    await hls.close()
    first, second = hls.segments
    assert titles_in(first.data) == ["Jazz - One"]
    # The second opens with the title on air, then the new track at its first frame.
    assert titles_in(second.data) == ["Jazz - One", "Jazz - Two"]
    path = tmp_path / "second.ts"
    path.write_bytes(second.data)
    probe = await ffprobe(path, "-show_packets", "-select_streams", "d")
    packets = probe["packets"]
    assert isinstance(packets, list)
    assert int(packets[1]["pts"]) == 130 * 1152 * 90000 // RATE + MUX_DELAY


def test_listeners_are_distinct_clients_seen_within_two_segments() -> None:
    listeners = HlsListeners()
    assert listeners.window == pytest.approx(2 * SEGMENT_SECONDS)
    assert listeners.seen("10.0.0.1 VLC", 100.0)
    assert not listeners.seen("10.0.0.1 VLC", 102.0)  # the same player, next segment
    assert listeners.seen("10.0.0.1 Safari", 102.5)
    assert listeners.count(103.0) == 2
    assert not listeners.seen("10.0.0.1 Safari", 104.0)
    later = 102.0 + listeners.window + 0.1
    assert listeners.seen("10.0.0.1 Safari", later)  # VLC stopped fetching: a change to tell
    assert listeners.count(later) == 1
    assert listeners.count(200.0) == 0
    assert listeners.peak == 2


async def test_hls_requests_and_their_errors(start_server: StartServer) -> None:
    client, radio = await start_server()
    await on_air(radio)
    hls = radio.on_air["jazz"].hls
    await wait_until(lambda: len(hls.segments) >= 2, 30, "two HLS segments")
    live = await client.get("/hls/jazz/live.m3u8")
    assert live.status == 200
    assert live.content_type == "application/vnd.apple.mpegurl"
    assert live.headers["Cache-Control"] == "public, max-age=1"
    assert live.headers["Access-Control-Allow-Origin"] == "*"
    assert live.headers["Content-Encoding"] == "gzip"  # aiohttp's client accepts it
    plain = await client.get("/hls/jazz/live.m3u8", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert (await plain.text()).startswith("#EXTM3U\n")
    names = [line for line in (await live.text()).splitlines() if line.endswith(".ts")]
    segment = await client.get(f"/hls/jazz/{names[0]}")
    assert segment.status == 200 and segment.content_type == "video/mp2t"
    assert segment.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await segment.read())[0] == 0x47  # an MPEG-TS sync byte
    summary = await (await client.get("/api/stations/jazz")).json()
    assert summary["listeners_by_format"] == {"mp3": 0, "opus": 0, "hls": 1}
    assert summary["listeners"] == 1
    assert summary["stream"]["hls"].endswith("/hls/jazz/live.m3u8")
    # Bad input: each a 404 with a JSON message that says what went wrong.
    gone = int(names[0].removesuffix(".ts")) - KEPT_SEGMENTS - 1
    for path, words in [
        (f"/hls/jazz/{gone}.ts", "not in the window"),
        ("/hls/jazz/abc.ts", "<sequence>.ts"),
        ("/hls/jazz/%C2%B2.ts", "<sequence>.ts"),
        ("/hls/jazz/live.m3u", "live.m3u8"),
        ("/hls/jazz", "live.m3u8"),
        ("/hls/nope/live.m3u8", "no station 'nope'"),
        ("/hls/nope/1.ts", "no station 'nope'"),
    ]:
        response = await client.get(path)
        assert response.status == 404, path
        assert words in (await response.json())["error"], path
    assert (await client.get("/stream/jazz.m3u")).status == 200  # nothing else affected


@pytest.mark.slow
async def test_ffmpeg_reads_30_seconds_and_every_title_change(
    start_server: StartServer, tmp_path: Path
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    hls = radio.on_air["jazz"].hls
    await wait_until(lambda: len(hls.segments) >= 3, 30, "three HLS segments")
    url = f"http://{client.host}:{client.port}/hls/jazz/live.m3u8"
    tags = tmp_path / "tags.id3"
    command = ["ffmpeg", "-nostdin", "-v", "warning", "-i", url, "-map", "0:a", "-t", "30"]
    command += ["-f", "s16le", "-ac", "2", "-ar", str(RATE), "pipe:1"]
    command += ["-map", "0:d", "-t", "30", "-c", "copy", "-f", "data", str(tags)]
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*command, stdout=pipe, stderr=pipe)
    reading = asyncio.create_task(proc.communicate())

    async def counted(body: dict[str, object]) -> bool:
        sources = body["icestats"]["source"]  # type: ignore[index]
        entry = next(s for s in sources if s["listenurl"] == url)
        return bool(entry["listeners"] == 1 and entry["server_type"].endswith("mpegurl"))

    # ffmpeg is one listener while it reads, in the API and in status-json alike.
    await wait_until(
        lambda: hls.listeners.count(time.monotonic()) == 1, 30, "ffmpeg counted as a listener"
    )
    assert await counted(await (await client.get("/status-json.xsl")).json())
    out, err = await asyncio.wait_for(reading, 120)
    assert proc.returncode == 0 and err.decode() == "", err.decode()
    assert len(out) >= 30 * RATE * 4 * 0.99  # 30 s of 16-bit stereo, read without a gap
    heard = changes(tit2_frames(tags.read_bytes()))
    assert len(heard) >= 4, heard  # 4-second tracks: several changes in 30 s
    assert all(t.startswith("Blue Hour Jazz - ") for t in heard)
    played = {p["title"] for p in (await (await client.get("/api/stations/jazz")).json())["recent"]}
    assert {t.removeprefix("Blue Hour Jazz - ") for t in heard} <= played
    await wait_until(
        lambda: hls.listeners.count(time.monotonic()) == 0, 30, "ffmpeg no longer counted"
    )
