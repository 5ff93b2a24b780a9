"""Float PCM and track starts in, a chained Ogg Opus stream out: one encoder a station.

Each track is its own logical stream (a new serial, then OpusHead and OpusTags
with its TITLE and ARTIST), and the logical streams follow each other in one
physical stream: a chained Ogg, so players show titles without ICY. PyAV does
the work (libopus, libswresample for 44.1 -> 48 kHz, libogg-style muxing in
libavformat): a new container per track is what makes a new logical stream.

The muxer writes whole pages into our BytesIO: the header pages when a chain
opens, then an audio page each PAGE_SECONDS (flush_packets hands each page on as
it is made), so every piece `encode` returns starts and ends on a page boundary
and a listener can join at the start of any of them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer

from radio.audio import PLAYOUT_RATE, Samples

OPUS_RATE = 48000  # Opus codes 48 kHz; 44.1 kHz would be resampled by every decoder
# Shorter pages hand audio on sooner and let a burst start closer to its target,
# at 28 bytes or so a page (about 1% of 96 kbps at five pages a second).
PAGE_SECONDS = 0.2


@dataclass(frozen=True)
class StreamTags:
    """What a logical stream's OpusTags name."""

    title: str
    artist: str


@dataclass(frozen=True)
class Chain:
    """A logical stream begins at byte `index` of the data `encode` returned; a listener
    that joins later in it needs its `headers` (OpusHead and OpusTags pages) first."""

    index: int
    tags: StreamTags | None  # None: audio before the station's first track
    headers: bytes


class OpusEncoder:
    """`bitrate` (kbps) may be changed at any time: it applies from the next chain on.
    `tags` name the first chain (a restarted encoder carries on with the track playing)."""

    def __init__(self, bitrate: int = 96, tags: StreamTags | None = None) -> None:
        self.bitrate = bitrate
        self._out = io.BytesIO()
        self._container: OutputContainer | None = None
        self._stream: AudioStream | None = None
        self._tags = tags  # the open chain's, or the next one's
        self._fed = 0  # samples given to the open chain

    def encode(
        self, samples: Samples, starts: Sequence[tuple[int, StreamTags]] = ()
    ) -> tuple[bytes, list[Chain]]:
        """Encode (frames, 2) float audio at the playout rate, with (sample index, tags)
        for each track that starts in it; returns the Ogg pages ready and the chains
        that begin in them (audio before any track gets a chain without tags)."""
        chains: list[Chain] = []
        pos = 0
        for index, tags in starts:
            self._feed(samples[pos:index], chains)
            self._close_chain()
            self._tags = tags
            pos = index
        self._feed(samples[pos:], chains)
        data = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return data, chains

    def close(self) -> bytes:
        """End the open chain (its last page, flagged end of stream); returns what is left."""
        self._close_chain()
        data = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return data

    def _feed(self, samples: Samples, chains: list[Chain]) -> None:
        if not len(samples):
            return
        container, stream = self._container, self._stream
        if container is None or stream is None:
            container, stream = self._open_chain(chains)
        pcm = np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm).reshape(1, -1), format="flt", layout="stereo"
        )
        frame.sample_rate = PLAYOUT_RATE
        frame.time_base = Fraction(1, PLAYOUT_RATE)
        frame.pts = self._fed
        self._fed += len(samples)
        container.mux(stream.encode(frame))

    def _open_chain(self, chains: list[Chain]) -> tuple[OutputContainer, AudioStream]:
        start = self._out.tell()
        container = av.open(
            self._out,
            "w",
            format="ogg",
            options={"page_duration": str(int(PAGE_SECONDS * 1_000_000)), "flush_packets": "1"},
        )
        stream = container.add_stream("libopus", rate=OPUS_RATE, layout="stereo")
        stream.bit_rate = self.bitrate * 1000
        if self._tags is not None:
            stream.metadata["TITLE"] = self._tags.title
            stream.metadata["ARTIST"] = self._tags.artist
        container.start_encoding()  # writes the header pages, and flushes them
        headers = self._out.getvalue()[start:]
        chains.append(Chain(start, self._tags, headers))
        self._container, self._stream, self._fed = container, stream, 0
        return container, stream

    def _close_chain(self) -> None:
        if self._container is None or self._stream is None:
            return
        container, stream = self._container, self._stream
        self._container = self._stream = None
        try:
            container.mux(stream.encode(None))  # the resampler's and the encoder's tail
        finally:
            container.close()
