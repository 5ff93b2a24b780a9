from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from radio.cli import main
from radio.errors import ConfigError
from radio.lineup.stations import MAX_STATIONS, load_stations, parse_stations
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
        (
            ('genre = "Metal"', 'genre = "Metal"\nopus_bitrate = 600'),
            "metal",
            "opus_bitrate",
            "out of range [6, 510]",
        ),
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


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        # #10 item 3: format specs and conversions made batches fail or prompts huge.
        (("{mood} metal", "{mood:d} metal"), "prompt", "format spec"),
        (("{mood} metal", "{mood!r:>99999999} metal"), "prompt", "format spec"),
        (("{mood} metal", "{mood.real} metal"), "prompt", "not a plain name"),
        (("{mood} metal", "{mood[0]} metal"), "prompt", "not a plain name"),
        (("{mood} metal", "{} metal"), "prompt", "not a plain name"),
        (("{mood} metal", "{mood metal"), "prompt", "bad template"),
        # #10 item 4: control characters and unbounded lengths.
        (('"Iron Forge Metal"', '"Iron\\r\\nForge"'), "name", "U+000D"),
        (('"Iron Forge Metal"', '"Iron\\u2028Forge"'), "name", "U+2028"),
        (('"Heavy riffs."', '"Heavy\\u0000riffs"'), "description", "U+0000"),
        (('genre = "Metal"', 'genre = "Metal\\u001b[31m"'), "genre", "U+001B"),
        (('"Iron Forge Metal"', '"' + "x" * 101 + '"'), "name", "at most 100"),
        (('"epic", "furious"', '"epic\\nhttp://evil.example/"'), "pools.mood", "U+000A"),
        (('"epic", "furious"', '"' + "e" * 201 + '"'), "pools.mood", "at most 200"),
    ],
)
def test_operator_text_is_plain_one_line_and_bounded(
    edit: tuple[str, str], key: str, words: str
) -> None:
    error = _error(short_lineup().replace(*edit))
    assert (error.station, error.key) == ("metal", key)
    assert words in error.message
    assert "\n" not in str(error)


def test_daypart_names_and_prompts_follow_the_same_rules() -> None:
    def with_daypart(name: str, prompt: str) -> str:
        return short_lineup().replace(
            'tempo = ["140", "180"]',
            f'tempo = ["140", "180"]\n[[stations.dayparts]]\nname = "{name}"\n'
            f'cron = "* 22-23 * * *"\nprompt = "{prompt}"\npools = {{ mood = ["doom"] }}',
        )

    parse_stations(with_daypart("night", "dark {mood}"))
    assert _error(with_daypart("ni\\rght", "dark {mood}")).key == "dayparts[0].name"
    assert _error(with_daypart("night", "dark {mood:>9}")).key == "dayparts[0].prompt"


def test_the_number_of_stations_is_capped() -> None:
    one = short_lineup().split("[[stations]]")[2]
    tables = [one.replace('id = "metal"', f'id = "s{n}"') for n in range(MAX_STATIONS + 1)]
    head = short_lineup().split("[[stations]]")[0]
    error = _error(head + "".join("[[stations]]" + t for t in tables))
    assert error.key == "stations" and f"at most {MAX_STATIONS}" in error.message
    parse_stations(head + "".join("[[stations]]" + t for t in tables[:MAX_STATIONS]))


def test_invalid_utf8_is_one_located_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.toml"
    text = short_lineup().replace("Heavy riffs.", "Heavy riffs @")
    raw = text.encode().replace(b"@", b"\xff")
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as caught:
        load_stations(path)
    line = text.splitlines().index('description = "Heavy riffs @"') + 1
    assert str(caught.value).startswith(f"{path}:{line}: not UTF-8: byte 0xff")
    result = CliRunner().invoke(main, ["stations", "--stations", str(path), "--check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == f"Error: {caught.value}"


def test_deep_nesting_is_one_located_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.toml"
    path.write_text(short_lineup() + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    result = CliRunner().invoke(main, ["stations", "--stations", str(path), "--check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = short_lineup().count("\n") + 1
    message = f"{path}:{lines}: arrays or inline tables nested too deeply"
    assert result.output.strip() == f"Error: {message}"


def test_a_number_too_long_to_read_is_one_located_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.toml"
    path.write_text(short_lineup() + "x = " + "9" * 5000 + "\n")  # past Python's int limit
    result = CliRunner().invoke(main, ["stations", "--stations", str(path), "--check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = short_lineup().count("\n") + 1
    assert result.output.strip() == f"Error: {path}:{lines}: a number too long to read"
