"""A station's MP3 broadcast chunks and titles in, HLS segments and a live playlist out.

HLS reuses the station's one MP3 encoder: its whole frames are cut into segments
of SEGMENT_FRAMES frames and remuxed, not re-encoded, into MPEG-TS by PyAV
(libavformat's muxer), with each title as a timed ID3 tag (written by mutagen) in
a metadata stream, at the segment's start and at the frame where a track begins.
That is the form hls.js (its metadata TextTrack) and Safari expose to pages, and
the one ffmpeg's HLS demuxer reports change by change; ID3 in MP3 "packed audio"
is read once by ffmpeg ("Changing ID3 metadata in HLS audio elementary stream is
not implemented"). README, "HLS", says more.

Segments live in memory, a bounded deque per station. Muxing runs on a worker
thread, one segment after another, so the event loop only slices bytes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

import av
from mutagen.id3 import ID3, TIT2

from radio.audio import PLAYOUT_RATE
from radio.encoder import SAMPLES_PER_FRAME, frame_length

log = logging.getLogger(__name__)

SEGMENT_FRAMES = 100  # 2.61 s at 44.1 kHz: inside the 2-4 s the issue asks for
SEGMENT_SECONDS = SEGMENT_FRAMES * SAMPLES_PER_FRAME / PLAYOUT_RATE
WINDOW_SEGMENTS = 24  # 62.7 s in the playlist: at least a minute, so players may pause a bit
# Segments that just left the playlist stay fetchable a little longer: a player (or a CDN)
# that read the previous playlist may still ask for them (RFC 8216, 6.2.2).
KEPT_SEGMENTS = WINDOW_SEGMENTS + 4
LISTENER_SECONDS = 2 * SEGMENT_SECONDS  # a client that fetched a segment this recently listens
MPEG_TICKS = 90_000  # MPEG-TS timestamps count a 90 kHz clock
# libavformat's defaults as a library (no muxing delay; tables ten times a second) put
# each 418-byte frame in a PES of its own, three TS packets, and 50 table packets in a
# segment: 67 kB for 42 kB of audio. Letting frames gather into PES packets of about
# 2.9 kB (its pes_payload_size) for up to 0.7 s, as the ffmpeg command line does, and
# writing the tables once at the head of each segment (every segment is a file of its
# own, so a player always starts there) costs only TS's own packet overhead.
MUXER_OPTIONS = {"max_delay": "700000", "pat_period": "3600", "sdt_period": "3600"}


@dataclass(frozen=True)
class Segment:
    sequence: int
    data: bytes
    seconds: float
    starts_at: float  # epoch seconds when its first sample is due on the station's clock


def id3_title(title: str) -> bytes:
    """An ID3v2.4 tag holding one TIT2 frame, as bytes."""
    # mutagen's ID3 classes carry no annotations
    tags = ID3()  # type: ignore[no-untyped-call]
    tags.add(TIT2(encoding=3, text=[title]))  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    tags.save(out, padding=lambda _info: 0)
    return out.getvalue()


def mux_segment(
    frames: Sequence[bytes], first_frame: int, titles: Sequence[tuple[int, str]]
) -> bytes:
    """MPEG-TS holding `frames` (whole MP3 frames, the stream's frames `first_frame` on)
    and a timed ID3 tag for each (frame index within them, title)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mpegts", container_options=MUXER_OPTIONS) as container:
        # Timestamps are given in the muxer's own 90 kHz clock: PyAV hands a muxed
        # stream's packets over unscaled.
        audio = container.add_mux_stream("mp3", rate=PLAYOUT_RATE)
        audio.time_base = Fraction(1, MPEG_TICKS)
        metadata = container.add_data_stream("timed_id3")
        metadata.time_base = Fraction(1, MPEG_TICKS)
        pending = sorted(titles)
        for index, frame in enumerate(frames):
            pts = ticks(first_frame + index)
            while pending and pending[0][0] <= index:
                tag = av.Packet(id3_title(pending.pop(0)[1]))
                tag.stream = metadata
                tag.pts = tag.dts = pts
                container.mux(tag)
            packet = av.Packet(frame)
            packet.stream = audio
            packet.pts = packet.dts = pts
            packet.duration = ticks(first_frame + index + 1) - pts
            container.mux(packet)
    return out.getvalue()


def ticks(frame: int) -> int:
    """Where MP3 frame `frame` of the stream starts, on the 90 kHz clock. The muxer
    keeps the low 33 bits, so the timestamps wrap every 26.5 hours as MPEG-TS's do."""
    return frame * SAMPLES_PER_FRAME * MPEG_TICKS // PLAYOUT_RATE


def split_frames(data: bytes) -> list[bytes]:
    """Whole MP3 frames, as the encoder hands them on, one bytes object each."""
    frames, pos = [], 0
    while pos < len(data):
        length = frame_length(data[pos : pos + 4])
        frames.append(data[pos : pos + length])
        pos += length
    return frames


class HlsListeners:
    """Distinct clients (address and User-Agent) that fetched a segment lately."""

    def __init__(self, window: float = LISTENER_SECONDS) -> None:
        self.window = window
        # Oldest fetch first, so the stale are pruned from the front: a fetch costs O(1)
        # however many thousands of clients there are.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self.peak = 0

    def seen(self, client: str, now: float) -> bool:
        """Note a segment fetch; True when the count changed since the last fetch (a
        new client, or others that stopped fetching): the moment to tell."""
        before = len(self._seen)
        new = now - self._seen.get(client, -math.inf) > self.window
        self._seen[client] = now
        self._seen.move_to_end(client)
        count = self.count(now)
        self.peak = max(self.peak, count)
        return new or count != before

    def count(self, now: float) -> int:
        while self._seen and now - next(iter(self._seen.values())) > self.window:
            self._seen.popitem(last=False)
        return len(self._seen)


class HlsStream:
    """One station's segments: fed on the loop, muxed on a worker thread, served from memory."""

    def __init__(self) -> None:
        self.segments: deque[Segment] = deque(maxlen=KEPT_SEGMENTS)
        self.listeners = HlsListeners()
        self.title: str | None = None  # the title at the end of what was fed
        self._frames: list[bytes] = []
        self._titles: list[tuple[int, str]] = []
        self._starts_at = 0.0
        self._muxed_frames = 0  # frames handed to segments so far: the next one's timestamp
        self._next_sequence: int | None = None
        self._muxing: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def playlist_segments(self) -> list[Segment]:
        return list(self.segments)[-WINDOW_SEGMENTS:]

    def segment(self, sequence: int) -> Segment | None:
        for segment in self.segments:
            if segment.sequence == sequence:
                return segment
        return None

    def feed(self, data: bytes, marks: Sequence[tuple[int, str]], starts_at: float) -> None:
        """Whole MP3 frames just published, (byte index, title) of each track start in
        them, and the epoch second their first sample is due."""
        if self._closed or not data:
            return
        if self._next_sequence is None:
            # Numbered by the wall clock, so a restarted server never reuses a URL a
            # cache may still hold for a year: the old one's numbers lie behind it.
            self._next_sequence = int(starts_at / SEGMENT_SECONDS) + 2
        offset, pending = 0, sorted(marks)
        for index, frame in enumerate(split_frames(data)):
            starting = bool(pending) and pending[0][0] <= offset
            while pending and pending[0][0] <= offset:
                self.title = pending.pop(0)[1]
            if not self._frames:
                self._starts_at = starts_at + index * SAMPLES_PER_FRAME / PLAYOUT_RATE
            if self.title and (starting or not self._frames):
                # A track's title at its first frame, and the title on air at the start
                # of every segment, so a player that joins there shows it at once.
                self._titles.append((len(self._frames), self.title))
            self._frames.append(frame)
            offset += len(frame)
            if len(self._frames) == SEGMENT_FRAMES:
                self._cut()
        if pending:  # a track starting after the last frame: its title opens the next one
            self.title = pending[-1][1]

    def _cut(self) -> None:
        frames, titles, first = self._frames, self._titles, self._muxed_frames
        sequence, starts_at = self._next_sequence or 0, self._starts_at
        self._frames, self._titles = [], []
        self._muxed_frames += len(frames)
        self._next_sequence = sequence + 1
        previous = self._muxing
        self._muxing = asyncio.create_task(
            self._mux(previous, frames, first, titles, sequence, starts_at)
        )

    async def _mux(
        self,
        previous: asyncio.Task[None] | None,
        frames: list[bytes],
        first: int,
        titles: list[tuple[int, str]],
        sequence: int,
        starts_at: float,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)  # keep the order
        try:
            data = await asyncio.to_thread(mux_segment, frames, first, titles)
        except Exception as exc:  # HLS loses one segment; the station stays on air
            log.warning("HLS segment %d not muxed: %r", sequence, exc)
            # A playlist numbers its segments one by one from the first: one missing
            # would shift every number after it. The window starts again past the hole.
            self.segments.clear()
            return
        seconds = len(frames) * SAMPLES_PER_FRAME / PLAYOUT_RATE
        self.segments.append(Segment(sequence, data, seconds, starts_at))

    async def close(self) -> None:
        self._closed = True
        if self._muxing is not None:
            await asyncio.gather(self._muxing, return_exceptions=True)


def playlist(segments: Sequence[Segment]) -> str:
    """A live media playlist (RFC 8216) of `segments`, whose URLs are `<sequence>.ts`."""
    first = segments[0].sequence if segments else 0
    longest = max((s.seconds for s in segments), default=SEGMENT_SECONDS)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{math.ceil(longest)}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for segment in segments:
        when = datetime.fromtimestamp(segment.starts_at, UTC).isoformat(timespec="milliseconds")
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{when.replace('+00:00', 'Z')}",
            f"#EXTINF:{segment.seconds:.3f},",
            f"{segment.sequence}.ts",
        ]
    return "\n".join(lines) + "\n"
