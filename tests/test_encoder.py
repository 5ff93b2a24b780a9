"""The encoder as a listener's decoder sees it (ffmpeg, ffprobe): CBR stereo 44.1 kHz in
whole frames, and each mark on the first frame that decodes the new track's audio."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from itertools import cycle
from typing import Any

import numpy as np
import pytest

from radio.audio import Samples
from radio.broadcast import Broadcast
from radio.encoder import DELAY_SAMPLES, SAMPLES_PER_FRAME, Mp3Encoder, frame_length
from radio.errors import EncoderError
from radio.icy import IcyInterleaver
from tests.dummies import DummyConnection
from tests.support import RATE, decode, dominant_hz, parse_icy

# Chunk sizes to feed, cycled: single samples, less than a frame, odd, playout-sized.
SIZES = [(1, 7, 1152, 333), (4410,), (11025, 2000, 1)]


def tone(frames: int, hz: float, level: float = 0.5) -> Samples:
    wave = level * np.cos(2 * np.pi * hz * np.arange(frames) / RATE)
    return np.repeat(wave[:, None], 2, axis=1).astype(np.float32)


def silence_then_tone(change: int, frames: int) -> Samples:
    return np.concatenate([np.zeros((change, 2), np.float32), tone(frames - change, 700)])


def encode(
    encoder: Mp3Encoder[str],
    samples: Samples,
    sizes: Sequence[int],
    starts: Sequence[tuple[int, str]] = (),
) -> tuple[list[bytes], list[tuple[int, str]]]:
    """Feed `samples` in chunks of `sizes` (cycled), each start with the chunk that holds
    it, as playout does; returns the chunks and the marks at absolute byte offsets."""
    chunks: list[bytes] = []
    marks: list[tuple[int, str]] = []
    head = pos = 0
    sizes_in_turn = cycle(sizes)
    while pos < len(samples):
        size = next(sizes_in_turn)
        inside = [(s - pos, tag) for s, tag in starts if pos <= s < pos + size]
        data, resolved = encoder.encode(samples[pos : pos + size], inside)
        marks += [(head + index, tag) for index, tag in resolved]
        chunks.append(data)
        head += len(data)
        pos += size
    return chunks, marks


async def ffprobe(mp3: bytes, *show: str) -> dict[str, Any]:
    command = ["ffprobe", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-of", "json", *show]
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*command, stdin=pipe, stdout=pipe, stderr=pipe)
    out, err = await proc.communicate(mp3)
    assert proc.returncode == 0 and err == b"", err
    result: dict[str, Any] = json.loads(out)
    return result


async def frame_offsets(mp3: bytes) -> list[int]:
    """Where ffprobe finds each MP3 frame (packet), checking that they tile the bytes."""
    packets = (await ffprobe(mp3, "-show_entries", "packet=pos,size"))["packets"]
    offsets = [int(p["pos"]) for p in packets]
    ends = [int(p["pos"]) + int(p["size"]) for p in packets]
    assert offsets[0] == 0 and offsets[1:] == ends[:-1] and ends[-1] == len(mp3)
    return offsets


def first_loud(pcm: np.ndarray, level: float = 0.25) -> int:
    return int(np.argmax(np.abs(pcm[:, 0]) >= level))


@pytest.mark.parametrize(
    ("header", "length"),
    [
        ("fffb9044", 417),  # 128 kbps, 44.1 kHz: 144 * 128000 / 44100 = 417.96
        ("fffb9244", 418),  # the same with the padding byte
        ("fffbd044", 835),  # 256 kbps
        ("fffbe064", 1044),  # 320 kbps, 44.1 kHz, joint stereo bits set
        ("fffb9444", 384),  # 128 kbps, 48 kHz
    ],
)
def test_frame_length_reads_the_header(header: str, length: int) -> None:
    assert frame_length(bytes.fromhex(header)) == length


@pytest.mark.parametrize("header", ["49443304", "fffd9044", "fff39044", "fffbf044", "fffb9c44"])
def test_anything_but_an_mpeg1_layer3_header_is_refused(header: str) -> None:
    # An ID3 tag, Layer II, MPEG-2, a "bad" bitrate index, a reserved sample rate.
    with pytest.raises(EncoderError):
        frame_length(bytes.fromhex(header))


@pytest.mark.parametrize("sizes", SIZES)
async def test_every_chunk_is_whole_frames_where_ffprobe_finds_them(sizes: Sequence[int]) -> None:
    samples = np.random.default_rng(1).uniform(-0.3, 0.3, (2 * RATE, 2)).astype(np.float32)
    chunks, _ = encode(Mp3Encoder(), samples, sizes)
    mp3 = b"".join(chunks)
    offsets = set(await frame_offsets(mp3))
    starts = np.cumsum([0] + [len(c) for c in chunks[:-1]])
    # Frames tile the stream and each chunk starts on one: every chunk is whole frames.
    assert all(int(start) in offsets for start, chunk in zip(starts, chunks, strict=True) if chunk)


@pytest.mark.parametrize("bitrate", [32, 64, 128, 320])
async def test_output_is_cbr_stereo_at_44_1_khz(bitrate: int) -> None:
    chunks, _ = encode(Mp3Encoder(bitrate), tone(2 * RATE, 440), (4410,))
    mp3 = b"".join(chunks)
    stream = (await ffprobe(mp3, "-show_streams"))["streams"][0]
    assert stream["codec_name"] == "mp3"
    assert (int(stream["sample_rate"]), stream["channels"]) == (44100, 2)
    assert int(stream["bit_rate"]) == bitrate * 1000
    sizes = np.diff([*await frame_offsets(mp3), len(mp3)])
    exact = 144_000 * bitrate // 44100  # each frame this or one padding byte more
    assert set(sizes.tolist()) <= {exact, exact + 1}


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("edge", [0, 1, SAMPLES_PER_FRAME // 2, SAMPLES_PER_FRAME - 1])
async def test_a_mark_is_the_first_frame_that_decodes_the_new_audio(
    sizes: Sequence[int], edge: int
) -> None:
    # The change decodes `edge` samples into its frame: at its very first sample,
    # its very last, and in between.
    change = 20 * SAMPLES_PER_FRAME - DELAY_SAMPLES + edge
    samples = silence_then_tone(change, change + RATE)
    chunks, marks = encode(Mp3Encoder(), samples, sizes, [(change, "tone")])
    mp3 = b"".join(chunks)
    pcm, err = await decode(mp3)
    assert err == ""
    heard = first_loud(pcm)
    assert heard - change == DELAY_SAMPLES  # LAME's delay, as ffmpeg decodes it
    assert marks == [((await frame_offsets(mp3))[heard // SAMPLES_PER_FRAME], "tone")]


async def test_a_mark_waits_for_its_frame_and_several_come_out_in_order() -> None:
    encoder: Mp3Encoder[str] = Mp3Encoder()
    first, marks = encoder.encode(tone(4410, 300), [(0, "a"), (2000, "b"), (4400, "c")])
    assert [tag for _, tag in marks] == ["a"]  # b and c are still inside LAME
    second, later = encoder.encode(tone(4410, 500))
    assert [tag for _, tag in later] == ["b", "c"]
    offsets = await frame_offsets(first + second)
    for index, tag in later:
        sample = {"b": 2000, "c": 4400}[tag]
        frame = (sample + DELAY_SAMPLES) // SAMPLES_PER_FRAME
        assert len(first) + index == offsets[frame]


async def test_a_bitrate_change_keeps_whole_frames_and_the_waiting_mark() -> None:
    encoder: Mp3Encoder[str] = Mp3Encoder(128)
    change = 5 * 4410 - 100  # near the end of the last chunk before the switch
    samples = silence_then_tone(change, 10 * 4410)
    before, marks = encode(encoder, samples[: 5 * 4410], (4410,), [(change, "tone")])
    assert marks == []  # its frame is still inside LAME
    encoder.change_bitrate(192)
    after, marks = encode(encoder, samples[5 * 4410 :], (4410,))
    mp3 = b"".join(before + after)
    offsets = await frame_offsets(mp3)
    pcm, err = await decode(mp3)
    assert err == ""
    # The flush hands on every sample fed at 128 kbps, so the tone starts on time.
    heard = first_loud(pcm)
    assert heard - change == DELAY_SAMPLES
    assert marks == [(offsets[heard // SAMPLES_PER_FRAME] - len(b"".join(before)), "tone")]
    assert mp3[offsets[-1] + 2] >> 4 == 11  # 192 kbps's index in the last frame's header


async def test_broadcast_titles_and_icy_blocks_follow_the_marked_frame() -> None:
    change = 3 * RATE + 1234
    samples = np.concatenate([tone(change, 400), tone(2 * RATE, 900)])
    broadcast = Broadcast()
    everything = DummyConnection()
    broadcast.join(everything)
    encoder: Mp3Encoder[str] = Mp3Encoder()
    for pos in range(0, len(samples), 11025):  # as playout publishes, a quarter second a time
        starts = [(s - pos, t) for s, t in [(0, "A"), (change, "B")] if pos <= s < pos + 11025]
        broadcast.publish(*encoder.encode(samples[pos : pos + 11025], starts))
    mp3 = everything.received
    offsets = await frame_offsets(mp3)
    mark = next(offset for offset in offsets if broadcast.title_at(offset) == "B")
    assert broadcast.title_at(mark - 1) == "A"
    assert offsets.index(mark) == (change + DELAY_SAMPLES) // SAMPLES_PER_FRAME
    pcm, _ = await decode(mp3)
    frame = offsets.index(mark) * SAMPLES_PER_FRAME
    assert dominant_hz(pcm[frame - 4410 : frame]) == pytest.approx(400, abs=15)
    assert dominant_hz(pcm[frame + SAMPLES_PER_FRAME :][:4410]) == pytest.approx(900, abs=15)
    # A listener hears "B" announced in the first metadata block after the marked byte.
    metaint = 1000
    stream = IcyInterleaver(broadcast.title_at, metaint).feed(mp3, 0)
    _, blocks = parse_icy(stream, metaint)
    assert [offset for offset, title in blocks if title == "B"] == [(mark // metaint + 1) * metaint]
    # A listener joins on a frame header, since every chunk is whole frames.
    late = DummyConnection()
    broadcast.join(late)
    assert len(mp3) - len(late.received) in offsets
