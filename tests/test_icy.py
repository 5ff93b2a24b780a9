from __future__ import annotations

from radio.icy import METAINT, IcyInterleaver, metadata_block, metaint_for
from tests.support import parse_icy as parse


def test_block_format() -> None:
    assert metadata_block(None) == b"\x00"
    block = metadata_block("Jazz - It's Late")
    assert block[0] * 16 == len(block) - 1
    assert block[1:].rstrip(b"\0") == "StreamTitle='Jazz - It\u2019s Late';".encode()


def test_title_changes_in_the_first_block_after_the_track_starts() -> None:
    change_at = 2500  # absolute stream byte where the new track's audio begins

    def title_at(offset: int) -> str:
        return "A - one" if offset < change_at else "B - two"

    icy = IcyInterleaver(title_at, metaint=1000)
    audio = bytes(range(256)) * 20
    # Fed in uneven pieces, as chunks arrive from the broadcast.
    out = b"".join(icy.feed(audio[a:b], a) for a, b in [(0, 700), (700, 2600), (2600, 5120)])
    parsed, blocks = parse(out, 1000)
    assert parsed == audio
    assert blocks == [
        (1000, "A - one"),
        (2000, None),
        (3000, "B - two"),
        (4000, None),
        (5000, None),
    ]


def test_the_metadata_interval_is_a_fifth_of_a_second_at_any_bitrate() -> None:
    # A title can change only at a block: 0.2 s between blocks keeps it within 0.25 s
    # of the audio (#9), where 16,000 bytes was a whole second at 128 kbps.
    assert METAINT == metaint_for(128) == 3200
    assert [metaint_for(kbps) for kbps in (32, 64, 192, 320)] == [800, 1600, 4800, 8000]
