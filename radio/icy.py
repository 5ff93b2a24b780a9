"""Audio bytes and titles in, Shoutcast/Icecast ICY-interleaved bytes out; pure.

A client that sends `Icy-MetaData: 1` gets a metadata block after every
`metaint` bytes of audio: one length byte (x16) then `StreamTitle='...';`
padded with NULs. A zero length byte means "title unchanged".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

TITLE_EVERY_SECONDS = 0.2


def metaint_for(bitrate_kbps: int) -> int:
    """Audio bytes between metadata blocks: 0.2 s of the stream at its bitrate.

    A title can only change at a block, so it reaches a listener at most this long
    after its track's first audio (#9: Icecast's customary 16,000 bytes is a whole
    second at 128 kbps, and titles came a median 0.41 s late). The value is the
    bitrate in kbps times 25 (3,200 bytes at 128 kbps), a round number; ffmpeg (so
    mpv), VLC and streamripper take any positive `icy-metaint`. A listener keeps the
    interval it connected with when the bitrate is changed live."""
    return max(1, round(bitrate_kbps * 1000 / 8 * TITLE_EVERY_SECONDS))


METAINT = metaint_for(128)
MAX_BLOCK = 255 * 16


@lru_cache(maxsize=64)  # every listener of a mount sends the same few titles
def metadata_block(title: str | None) -> bytes:
    """The bytes of one metadata block; None gives the empty block b'\\x00'."""
    if title is None:
        return b"\x00"
    # A quote would end the field early for most clients; they have no escape.
    text = title.replace("'", "\u2019")
    payload = f"StreamTitle='{text}';".encode()
    if len(payload) > MAX_BLOCK:
        payload = f"StreamTitle='{text[: MAX_BLOCK // 4]}';".encode()[:MAX_BLOCK]
    blocks = -(-len(payload) // 16)
    return bytes([blocks]) + payload.ljust(blocks * 16, b"\x00")


class IcyInterleaver:
    """Per-listener state: where the next metadata block goes and what was last sent."""

    def __init__(self, title_at: Callable[[int], str | None], metaint: int = METAINT) -> None:
        self.title_at = title_at
        self.metaint = metaint
        self.until_block = metaint
        self.sent: str | None = None

    def feed(self, data: bytes, offset: int) -> bytes:
        """Interleave `data`, which starts at absolute stream byte `offset`.

        Most chunks hold no block for a given listener: those come back as the very
        object given, so a broadcast's listeners share one bytes object."""
        if len(data) < self.until_block:
            self.until_block -= len(data)
            return data
        out = bytearray()
        pos = 0
        while len(data) - pos >= self.until_block:
            cut = pos + self.until_block
            out += data[pos:cut]
            # The title of the audio byte the block follows: a change lands in the
            # first block after the byte where the new track's audio starts.
            title = self.title_at(offset + cut - 1)
            out += metadata_block(title if title != self.sent else None)
            self.sent = title
            pos = cut
            self.until_block = self.metaint
        out += data[pos:]
        self.until_block -= len(data) - pos
        return bytes(out)
