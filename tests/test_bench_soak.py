"""`radio bench soak` on a real server: two stations, listeners on both mounts, half a
minute. What must hold on any machine: every listener is served from start to end,
no station sends dead air, and the server's own figures come back per station."""

from __future__ import annotations

from pathlib import Path

from radio.bench.soak import run_soak, table
from tests.support import short_lineup


def test_a_short_soak_reports_every_station_from_both_sides(tmp_path: Path) -> None:
    lineup = tmp_path / "stations.toml"
    lineup.write_text(short_lineup(track_seconds=8, crossfade_seconds=1.0))
    report = run_soak(lineup, minutes=0.5, listeners=2, backlog_minutes=0.5)
    stations = {s["station"]: s for s in report["per_station"]}
    assert set(stations) == {"jazz", "metal"}
    for figures in stations.values():
        assert figures["listeners"] == 2 and figures["dropped"] == 0
        # Every byte the window should hold, give or take a chunk: 30 s of 128 kbps.
        assert figures["min_rate_vs_bitrate"] > 0.8
        # From the server's /metrics, not from the listeners.
        assert figures["dead_air_s"] == 0.0 and figures["worst_lateness_s"] >= 0.0
        assert "replays" in figures
    assert report["dead_air_s"] == 0.0 and isinstance(report["warnings"], list)
    # The synth and preparation ran in the server's worker processes, counted apart.
    assert report["rss_mb"] > 0 and report["workers_rss_mb"] > 0
    assert any(line.startswith("jazz ") for line in table(report))
