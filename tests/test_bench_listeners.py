"""The listeners bench: its encoder floor, measured on the stations' own music, and how it
sums up the first-byte probes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from radio.audio import PLAYOUT_RATE
from radio.bench import encoders
from radio.bench.listeners import FLOOR_CLIP_SECONDS, PROBES, _first_bytes, station_audio, table
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


def test_the_first_byte_is_summed_up_by_its_tail_not_one_probe() -> None:
    ms = [float(n) for n in range(1, PROBES - 1)] + [60.0, 120.0]  # two behind a fan-out
    figures = _first_bytes(ms)
    assert figures["first_byte_ms_max"] == 120.0
    assert figures["first_byte_ms_median"] == 8.5
    assert 14.0 < figures["first_byte_ms_p90"] < 60.0  # two of sixteen are past the p90
    assert figures["first_byte_over_goal"] == 2


def test_the_table_has_a_row_per_count_with_both_servers_first_byte() -> None:
    def side(cpu: float, first: list[float]) -> dict[str, object]:
        figures = {"cpu_percent": cpu, "delivery_cpu_percent": cpu, "kept_up": 1000}
        return {**figures, "rss_mb": 230.0, **_first_bytes(first)}

    ours, ice = side(40.0, [1.0] * 15 + [70.0]), side(20.0, [300.0] * 16)
    lines = table({"runs": [{"listeners": 1000, "ours": ours, "icecast": ice}]})
    assert len(lines) == 3
    cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert cells[0] == "1000" and cells[3] == "2.0"  # the ratio of the two delivery figures
    assert cells[-1] == "1.0 / 70.0; 300.0 / 300.0"
