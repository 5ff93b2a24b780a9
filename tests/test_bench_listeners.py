"""The listeners bench's encoder floor: measured on the stations' own music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from radio.audio import PLAYOUT_RATE
from radio.bench import encoders
from radio.bench.listeners import FLOOR_CLIP_SECONDS, station_audio
from radio.lineup.stations import load_stations

REPO = Path(__file__).resolve().parent.parent


def test_the_floor_is_fed_a_stretch_of_each_stations_own_music(tmp_path: Path) -> None:
    lineup = load_stations(REPO / "stations.toml")
    first, second = lineup.enabled[:2]
    rng = np.random.default_rng(4)
    tracks = {}
    for station in (first, second):  # the rest have no track yet, and are left out
        audio = (rng.standard_normal((20 * PLAYOUT_RATE, 2)) * 0.1).astype(np.float32)
        (tmp_path / station.id).mkdir()
        soundfile.write(tmp_path / station.id / "a.flac", audio, PLAYOUT_RATE, subtype="PCM_16")
        tracks[station.id] = soundfile.read(tmp_path / station.id / "a.flac", dtype="float32")[0]
    fed = station_audio(lineup, tmp_path)
    clip = int(FLOOR_CLIP_SECONDS * PLAYOUT_RATE)
    assert fed is not None and fed.shape == (2 * clip, 2)
    middle = (20 * PLAYOUT_RATE - clip) // 2
    np.testing.assert_array_equal(fed[:clip], tracks[first.id][middle : middle + clip])
    np.testing.assert_array_equal(fed[clip:], tracks[second.id][middle : middle + clip])
    assert station_audio(lineup, tmp_path / "empty") is None

    # The encoders take the given music a turn at a time, around again when it runs out.
    seconds = 2 * FLOOR_CLIP_SECONDS + 3
    report = encoders.run_benchmark(seconds, 90.0, 128, 96, fed)
    for figures in report["formats"].values():
        assert figures["audio_seconds"] >= seconds and figures["percent_of_a_core"] > 0
