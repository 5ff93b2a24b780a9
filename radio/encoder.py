"""Float PCM and track starts in, whole MP3 frames and their marks out: one LAME encoder a station.

A persistent encoder keeps the bit reservoir and frame boundaries continuous
across tracks, so the stream is one clean MP3 that any decoder can join.

LAME hands bytes on as its bitstream fills, not a frame at a time, and holds
samples back. So the encoder cuts its output after the last whole frame (a
listener always joins on a frame header) and puts a track's mark on the first
frame whose decoded audio holds the track's first sample, which may come out
one or two calls after the sample went in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

import lameenc
import numpy as np

from radio.audio import PLAYOUT_CHANNELS, PLAYOUT_RATE, Samples
from radio.errors import EncoderError

# LAME quality 2 is near-best; 7 is fast and noticeably worse. 5 measured at
# about 60x real time per station on one core here, good value for 15 stations.
QUALITY = 5

SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III
# Input sample s is decoded as sample s + 1105 of the stream: LAME's encoder delay
# (576) plus the decoder's filterbank delay (529), as LAME's docs give them and
# tests/test_encoder.py measures with ffmpeg. lameenc writes no Xing/Info frame,
# so frame 0 of the output is audio.
DELAY_SAMPLES = 576 + 529

# MPEG-1 Layer III tables, indexed by the header's fields.
BITRATES_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
SAMPLE_RATES = (44100, 48000, 32000)

T = TypeVar("T")


def frame_length(header: bytes | bytearray) -> int:
    """Bytes in the MPEG-1 Layer III frame that starts with this 4-byte header."""
    bits = int.from_bytes(header[:4], "big")
    sync, version, layer = bits >> 21, (bits >> 19) & 3, (bits >> 17) & 3
    rate_index, padding = (bits >> 10) & 3, (bits >> 9) & 1
    kbps_index = (bits >> 12) & 15
    if (sync, version, layer) != (0x7FF, 3, 1) or rate_index == 3 or not 0 < kbps_index < 15:
        raise EncoderError(f"not an MPEG-1 Layer III frame header: {header[:4].hex()}")
    return 144_000 * BITRATES_KBPS[kbps_index] // SAMPLE_RATES[rate_index] + padding


class Mp3Encoder(Generic[T]):
    """Marks are tagged with any value (playout uses the track) and handed back with it."""

    def __init__(self, bitrate: int = 128, quality: int = QUALITY) -> None:
        self.bitrate = bitrate
        self.quality = quality
        self._wanted_bitrate = bitrate
        self._lame = self._new_lame()
        self._fed = 0  # samples given to this LAME
        self._framed = 0  # whole frames handed on from this LAME
        self._unframed = bytearray()  # LAME's output after the last whole frame
        self._waiting: deque[tuple[int, T]] = deque()  # (frame index, tag), in stream order

    def change_bitrate(self, bitrate: int) -> None:
        """Switch before the next encode; safe to call while another thread encodes."""
        self._wanted_bitrate = bitrate

    def encode(
        self, samples: Samples, starts: Sequence[tuple[int, T]] = ()
    ) -> tuple[bytes, list[tuple[int, T]]]:
        """Encode (frames, 2) float audio and (sample index, tag) for each track start in it.

        Returns the whole MP3 frames ready so far and (byte index in them, tag) for
        each start whose first frame is among them, this call's or an earlier one's."""
        out = bytearray()
        marks: list[tuple[int, T]] = []
        if self._wanted_bitrate != self.bitrate:
            self._restart(out, marks)
        for index, tag in starts:
            self._waiting.append(((self._fed + index + DELAY_SAMPLES) // SAMPLES_PER_FRAME, tag))
        if len(samples):
            pcm = np.clip(samples, -1.0, 1.0) * 32767.0
            self._fed += len(samples)
            self._take(self._lame.encode(np.ascontiguousarray(pcm, np.int16).tobytes()), out, marks)
        return bytes(out), marks

    def _take(self, data: bytes, out: bytearray, marks: list[tuple[int, T]]) -> None:
        """Move LAME's output into `out` up to the last whole frame, resolving marks."""
        self._unframed += data
        pos = 0
        while len(self._unframed) - pos >= 4:
            length = frame_length(self._unframed[pos : pos + 4])
            if len(self._unframed) - pos < length:
                break
            while self._waiting and self._waiting[0][0] <= self._framed:
                marks.append((len(out) + pos, self._waiting.popleft()[1]))
            pos += length
            self._framed += 1
        out += self._unframed[:pos]
        del self._unframed[:pos]

    def _restart(self, out: bytearray, marks: list[tuple[int, T]]) -> None:
        # Flushing pads the samples LAME holds back to whole frames, so no audio is
        # lost and every waiting mark finds its frame; the new LAME starts on a frame.
        self._take(bytes(self._lame.flush()), out, marks)
        self.bitrate = self._wanted_bitrate
        self._lame = self._new_lame()
        self._fed = self._framed = 0
        self._unframed.clear()
        # Frame indexes count from the new LAME's first frame; anything still
        # waiting is due no later than that.
        self._waiting = deque((0, tag) for _, tag in self._waiting)

    def _new_lame(self) -> lameenc.Encoder:
        lame = lameenc.Encoder()
        lame.set_bit_rate(self.bitrate)
        lame.set_in_sample_rate(PLAYOUT_RATE)
        # Below 80 kbps LAME would resample to MPEG-2 at 22.05/24 kHz on its own; the
        # stream is announced as 44.1 kHz and must keep one format across a retune.
        lame.set_out_sample_rate(PLAYOUT_RATE)
        lame.set_channels(PLAYOUT_CHANNELS)
        lame.set_quality(self.quality)
        return lame
