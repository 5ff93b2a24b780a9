"""Console edits written to stations.toml: comments and order kept, validated before writing."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest

from radio.errors import ConfigError, NotFound
from radio.lineup.edits import add_station, edit_station, remove_station, station_table
from radio.lineup.stations import load_stations

NIGHT = {
    "name": "night",
    "cron": "0 22 * * *",
    "prompt": "{mood} nocturne",
    "pools": {"mood": ["hushed"]},
}


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_an_edit_changes_only_its_lines(repo_stations: Path) -> None:
    original = repo_stations.read_text()
    change = edit_station(repo_stations, "jazz", {"prompt": "{mood} {style} jazz at dawn"})
    after = repo_stations.read_text()
    assert changed_lines(original, after) == [
        '-prompt = "{mood} {style} jazz with {instrument} and upright bass, {tempo} BPM, in {key}"',
        '+prompt = "{mood} {style} jazz at dawn"',
    ]
    assert after.startswith("# AI Radio stations.")  # the header comment survives
    assert change.lineup.get("jazz").prompt == "{mood} {style} jazz at dawn"  # type: ignore[union-attr]
    assert change.before and change.before["prompt"].endswith("in {key}")
    assert change.after and change.after["prompt"] == "{mood} {style} jazz at dawn"
    assert load_stations(repo_stations) == change.lineup


def test_pools_are_replaced_in_place_and_none_restores_the_default(repo_stations: Path) -> None:
    original = repo_stations.read_text()
    pools = {"mood": ["raw"]}
    edit_station(
        repo_stations, "rock", {"track_seconds": 30, "prompt": "{mood} rock", "pools": pools}
    )
    change = edit_station(repo_stations, "rock", {"track_seconds": None})
    rock = change.lineup.get("rock")
    assert rock is not None and dict(rock.pools) == {"mood": ("raw",)}
    assert rock.track_seconds == change.lineup.defaults.track_seconds
    # Every other station's text, comments included, is byte for byte what it was.
    header = "\n[[stations]]\n"
    before, after = original.split(header), repo_stations.read_text().split(header)
    assert len(before) == len(after) and before[2] != after[2]
    assert before[:2] + before[3:] == after[:2] + after[3:]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"track_seconds": 1}, "track_seconds"),
        ({"crossfade_seconds": 60, "track_seconds": 100}, "crossfade_seconds"),
        ({"prompt": "{nope} jazz"}, "prompt"),
        ({"pools": {}}, "pools"),
        ({"bitrate": 100}, "bitrate"),
        ({"name": "  "}, "name"),
        ({"colour": "blue"}, "colour"),
        ({"enabled": "yes"}, "enabled"),
        ({"dayparts": [{**NIGHT, "cron": "99 * * * *"}]}, "dayparts[0].cron"),
        ({"id": "jazz2"}, "id"),
        # The console obeys the file's text rules (#10 items 3 and 4).
        ({"prompt": "{mood:d} jazz"}, "prompt"),
        ({"name": "Jazz\r\nicy-url: http://evil.example/"}, "name"),
        ({"genre": "x" * 61}, "genre"),
        ({"pools": {"mood": ["calm\n#EXTINF:-1,evil"]}}, "pools.mood"),
        ({"dayparts": [{**NIGHT, "name": "ni\u0085ght"}]}, "dayparts[0].name"),
    ],
)
def test_invalid_edits_write_nothing(
    repo_stations: Path, changes: dict[str, Any], key: str
) -> None:
    original = repo_stations.read_bytes()
    with pytest.raises(ConfigError) as caught:
        edit_station(repo_stations, "jazz", changes)
    assert caught.value.key == key
    assert repo_stations.read_bytes() == original
    assert os.listdir(repo_stations.parent) == ["stations.toml"]  # no temporary file left


def test_add_then_remove_a_station(repo_stations: Path) -> None:
    original = repo_stations.read_text()
    table = {
        "id": "lofi",
        "name": "Late Lo-fi",
        "genre": "Lo-fi",
        "description": "Dusty beats.",
        "prompt": "{mood} lo-fi hip hop",
        "pools": {"mood": ["dusty", "rainy"]},
        "track_seconds": 60,
        "dayparts": [NIGHT],
    }
    change = add_station(repo_stations, table)
    text = repo_stations.read_text()
    assert text.startswith(original.rstrip("\n") + '\n\n[[stations]]\nid = "lofi"')
    assert station_table(change.lineup, "lofi")["dayparts"] == [NIGHT]
    assert change.before is None and change.after and change.after["id"] == "lofi"
    with pytest.raises(ConfigError, match="already exists"):
        add_station(repo_stations, table)
    removed = remove_station(repo_stations, "lofi")
    assert removed.lineup.get("lofi") is None and removed.after is None
    assert repo_stations.read_text().rstrip("\n") == original.rstrip("\n")


def test_dayparts_keep_headers_apart(repo_stations: Path) -> None:
    edit_station(repo_stations, "jazz", {"dayparts": [NIGHT, {**NIGHT, "name": "dawn"}]})
    lines = repo_stations.read_text().splitlines()
    for n, line in enumerate(lines):
        if line in ("[[stations]]", "[[stations.dayparts]]"):
            assert lines[n - 1] == "", f"line {n + 1}: {line} is glued to {lines[n - 1]!r}"
    dayparts = load_stations(repo_stations).get("jazz").dayparts  # type: ignore[union-attr]
    assert [d.name for d in dayparts] == ["night", "dawn"]


def test_unknown_station_and_last_station(stations_file: Path) -> None:
    with pytest.raises(NotFound):
        edit_station(stations_file, "nope", {"name": "x"})
    remove_station(stations_file, "metal")
    original = stations_file.read_bytes()
    with pytest.raises(ConfigError, match="no stations"):
        remove_station(stations_file, "jazz")
    assert stations_file.read_bytes() == original


def test_a_failed_write_leaves_the_old_file(
    repo_stations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = repo_stations.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        edit_station(repo_stations, "jazz", {"name": "Dawn Jazz"})
    assert repo_stations.read_bytes() == original
    assert os.listdir(repo_stations.parent) == ["stations.toml"]


def test_deeply_nested_values_are_refused_before_touching_the_file(repo_stations: Path) -> None:
    original = repo_stations.read_bytes()
    deep: Any = "calm"
    for _ in range(50):
        deep = [deep]
    with pytest.raises(ConfigError, match="nested deeper"):
        edit_station(repo_stations, "jazz", {"pools": {"mood": deep}})
    with pytest.raises(ConfigError, match="nested deeper"):
        add_station(repo_stations, {"id": "deep", "pools": {"mood": deep}})
    assert repo_stations.read_bytes() == original


def test_a_stations_file_that_is_not_utf8_is_a_located_error(repo_stations: Path) -> None:
    repo_stations.write_bytes(repo_stations.read_bytes().replace(b"Blue", b"Bl\xffe", 1))
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        edit_station(repo_stations, "jazz", {"name": "Jazz"})
    assert caught.value.path == str(repo_stations) and caught.value.line
