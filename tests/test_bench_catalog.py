"""The catalog bench: both synchronous settings timed in turns beside a real disk flood,
on real SQLite files that it cleans up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from radio.bench import catalog as bench_catalog
from radio.bench.catalog import DiskFlood, time_writes
from radio.catalog import Catalog
from radio.cli import main


def test_each_write_is_timed_on_the_setting_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    class Watched(Catalog):
        def start_play(self, track_id: int, station: str, listeners: int) -> int:
            seen.append(self.db.execute("PRAGMA synchronous").fetchone()[0])
            return super().start_play(track_id, station, listeners)

    monkeypatch.setattr(bench_catalog, "Catalog", Watched)
    full = time_writes(tmp_path, "FULL", 0.3)
    normal = time_writes(tmp_path, "NORMAL", 0.3)
    assert len(full) % 3 == 0 and len(normal) % 3 == 0  # a track, its play, its play's end
    assert min(full + normal) > 0
    assert set(seen[: len(full) // 3]) == {2} and set(seen[len(full) // 3 :]) == {1}
    assert list(tmp_path.iterdir()) == []  # each turn's catalog, WAL and all, is gone


def test_the_flood_writes_until_stopped_then_leaves_nothing(tmp_path: Path) -> None:
    with DiskFlood(tmp_path) as flood:
        for _ in range(3000):  # 30 s at most
            if flood.path.exists() and flood.path.stat().st_size >= 64 << 20:
                break
            time.sleep(0.01)
        assert flood.path.stat().st_size >= 64 << 20
    assert not flood.path.exists()


def test_the_command_prints_both_settings_and_saves_them(tmp_path: Path) -> None:
    out = tmp_path / "catalog.json"
    args = ["bench", "catalog", "--folder", str(tmp_path / "work"), "--seconds", "0.5"]
    result = CliRunner().invoke(main, [*args, "--rounds", "1", "--output", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["disk_flood"] is True and set(report["settings"]) == {"FULL", "NORMAL"}
    for name, figures in report["settings"].items():
        assert figures["writes"] >= 3 and figures["max_ms"] >= figures["median_ms"] > 0
        assert any(line.startswith(name) for line in result.output.splitlines())
    assert "FULL / NORMAL: p99" in result.output
    assert list((tmp_path / "work").iterdir()) == []
