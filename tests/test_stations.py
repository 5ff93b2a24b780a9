from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from radio.cli import main
from radio.errors import ConfigError
from radio.lineup.stations import load_stations, parse_stations
from tests.support import REPO, short_lineup


def test_repo_lineup_has_fifteen_genres() -> None:
    lineup = load_stations(REPO / "stations.toml")
    ids = [s.id for s in lineup.stations]
    assert len(ids) == 15
    for genre in ("jazz", "rock", "electro", "classical", "metal", "reggae", "world", "opera"):
        assert genre in ids
    for station in lineup.stations:
        assert station.track_seconds == 90 and station.backlog_seconds == 600
        assert station.pools and "{" in station.prompt


def test_station_overrides_defaults() -> None:
    text = short_lineup().replace('id = "metal"', 'id = "metal"\ntrack_seconds = 30')
    lineup = parse_stations(text)
    assert lineup.get("metal").track_seconds == 30  # type: ignore[union-attr]
    assert lineup.get("jazz").track_seconds == 4  # type: ignore[union-attr]


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_stations(text, "radio.toml")
    return info.value


@pytest.mark.parametrize(
    ("edit", "station", "key", "words"),
    [
        (('id = "metal"', 'id = "metal"\ncolour = "red"'), "metal", "colour", "unknown key"),
        (('id = "metal"', 'id = "jazz"'), "jazz", "id", "duplicate"),
        (("track_seconds = 4", "track_seconds = 9000"), None, "track_seconds", "out of range"),
        (
            ('id = "metal"', 'id = "metal"\ncrossfade_seconds = 3'),
            "metal",
            "crossfade_seconds",
            "half",
        ),
        (("bitrate = 128", "bitrate = 100"), None, "bitrate", "not an MP3 bitrate"),
        (('"{{mood}} metal', '"{{genre}} metal'), "metal", "prompt", "no pool"),
        (('mood = ["epic", "furious"]', "mood = []"), "metal", "pools.mood", "non-empty"),
        (('id = "metal"', 'id = "Metal Station"'), "Metal Station", "id", "slug"),
    ],
)
def test_config_errors_name_file_station_key_and_line(
    edit: tuple[str, str], station: str | None, key: str, words: str
) -> None:
    text = short_lineup().replace("{mood}", "{{mood}}").replace(*edit)
    text = text.replace("{{mood}}", "{mood}").replace("{{genre}}", "{genre}")
    error = _error(text)
    assert error.path == "radio.toml"
    assert error.station == station
    assert error.key == key
    assert words in error.message
    assert error.line is not None
    offending = text.splitlines()[error.line - 1]
    assert key.split(".")[-1] in offending or offending.strip() == "[[stations]]"
    assert str(error).startswith(f"radio.toml:{error.line}")


def test_toml_syntax_error_has_line() -> None:
    text = short_lineup().replace('name = "Iron Forge Metal"', 'name = "Iron Forge Metal')
    error = _error(text)
    assert "TOML syntax error" in error.message
    assert error.line == text.splitlines().index('name = "Iron Forge Metal') + 1


def test_bad_daypart_cron_is_rejected() -> None:
    text = short_lineup().replace(
        'tempo = ["140", "180"]',
        'tempo = ["140", "180"]\n[[stations.dayparts]]\nname = "night"\ncron = "99 * * * *"\n'
        'prompt = "dark {mood}"\npools = { mood = ["doom"] }',
    )
    error = _error(text)
    assert error.key == "dayparts[0].cron" and "cron" in error.message


def test_check_command_exits_nonzero_with_the_message(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(short_lineup())
    bad = tmp_path / "bad.toml"
    bad.write_text(short_lineup().replace("bitrate = 128", "bitrate = 7"))
    runner = CliRunner()
    ok = runner.invoke(main, ["stations", "--stations", str(good), "--check"])
    assert ok.exit_code == 0, ok.output
    assert "2 stations, OK" in ok.output
    failed = runner.invoke(main, ["stations", "--stations", str(bad), "--check"])
    assert failed.exit_code != 0
    assert f"{bad}:" in failed.output and "'bitrate'" in failed.output


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_stations(tmp_path / "nope.toml")
