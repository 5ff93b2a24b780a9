"""`radio bench joins`' measurements on audio whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from radio.audio import PLAYOUT_RATE
from radio.audio.meter import momentary_loudness
from radio.bench.capture import split_icy
from radio.bench.joins import find_start, offline, through
from radio.icy import IcyInterleaver
from radio.lineup.stations import parse_stations
from tests.support import short_lineup

RATE = PLAYOUT_RATE


def noise(seconds: float, seed: int, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * level).astype(np.float32)


def test_a_track_is_found_where_it_starts_in_the_stream() -> None:
    crossfade = RATE  # one second
    track = noise(6.0, seed=1)
    heard = noise(20.0, seed=2)
    at = 9 * RATE + 1234
    heard[at + crossfade : at + len(track)] = track[crossfade:] * 0.5  # after the crossfade
    start, match = find_start(heard, track, guess=at + RATE // 2, crossfade=crossfade)
    assert start == at and match > 0.99


def test_a_hole_at_a_join_is_measured_against_the_music_around_it() -> None:
    audio = noise(40.0, seed=3)
    even = through(momentary_loudness(audio[:, None], RATE), 17.0, 23.0)
    assert even is not None and even["dip_lu"] > -3 and even["below_6_s"] == 0
    audio[19 * RATE : 21 * RATE] *= np.float32(0.1)  # 20 dB down for two seconds
    hole = through(momentary_loudness(audio[:, None], RATE), 17.0, 23.0)
    assert hole is not None and hole["dip_lu"] == pytest.approx(-20, abs=1)
    assert hole["below_6_s"] == pytest.approx(2.0, abs=0.5)


def test_titles_are_split_out_with_their_audio_offsets() -> None:
    audio = bytes(range(256)) * 40

    def title_at(offset: int) -> str:
        return "one" if offset < 5000 else "two"

    stream = IcyInterleaver(title_at, metaint=1000).feed(audio, 0)
    parsed, titles = split_icy(stream, 1000)
    assert parsed == audio and titles == [(1000, "one"), (6000, "two")]


def test_offline_joins_are_the_same_joins_on_every_run() -> None:
    """`radio bench joins --offline` compares two versions of the code join for join: the
    same seeds, prepared and crossfaded as playout does, give the same figures."""
    lineup = parse_stations(short_lineup(track_seconds=30, crossfade_seconds=1.0))
    first = offline(lineup.enabled, tracks=2, track_seconds=30.0, crossfade=None)
    assert [s["station"] for s in first["per_station"]] == ["jazz", "metal"]
    assert first["joins"] == 2 and all(len(s["dips_lu"]) == 1 for s in first["per_station"])
    assert all(-60 < d < 0 for s in first["per_station"] for d in s["dips_lu"])
    # The same window in mid-track, read against the music's own ups and downs.
    assert first["inside"] == 2 and all(len(s["inside_dips_lu"]) == 1 for s in first["per_station"])
    assert all(-60 < d < 0 for s in first["per_station"] for d in s["inside_dips_lu"])
    again = offline(lineup.enabled[:1], tracks=2, track_seconds=30.0, crossfade=None)
    assert again["per_station"][0] == first["per_station"][0]
