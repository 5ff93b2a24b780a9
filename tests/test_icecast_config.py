"""The [icecast] table of stations.toml: off by default, validated, errors located."""

from __future__ import annotations

import pytest

from radio.errors import ConfigError
from radio.lineup.icecast import IcecastConfig
from radio.lineup.stations import parse_stations
from tests.support import short_lineup


def lineup(table: str) -> str:
    return short_lineup() + "\n" + table


def test_off_by_default() -> None:
    config = parse_stations(short_lineup()).icecast
    assert config == IcecastConfig()
    assert not config.enabled
    assert config.mount_for("jazz") == "/jazz.mp3"


def test_a_full_table_with_a_mount_of_its_own() -> None:
    text = lineup(
        '[icecast]\nenabled = true\nhost = "icecast.example.org"\nport = 8010\n'
        'mount = "/ai/{id}-128.mp3"\npassword_env = "ICE_PASS"\npublic = true\n'
        '[icecast.mounts]\nmetal = "/forge.mp3"\n'
    )
    config = parse_stations(text).icecast
    assert (config.enabled, config.host, config.port, config.public) == (
        True,
        "icecast.example.org",
        8010,
        True,
    )
    assert config.password_env == "ICE_PASS"
    assert config.mount_for("jazz") == "/ai/jazz-128.mp3"
    assert config.mount_for("metal") == "/forge.mp3"


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ('[icecast]\npassword = "hackme"', "icecast.password", "never kept in the file"),
        ("[icecast]\nenabeld = true", "icecast.enabeld", "unknown key in [icecast]"),
        ('[icecast]\nenabled = "yes"', "icecast.enabled", "true or false"),
        ("[icecast]\nport = 70000", "icecast.port", "from 1 to 65535"),
        ('[icecast]\nhost = "http://x/"', "icecast.host", "no scheme"),
        ('[icecast]\npassword_env = "MY PASS"', "icecast.password_env", "environment variable"),
        ('[icecast]\nmount = "jazz.mp3"', "icecast.mount", "start with '/'"),
        ('[icecast]\nmount = "/{station}.mp3"', "icecast.mount", "only field"),
        ('[icecast]\nmount = "/radio.mp3"', "icecast.mount", "also station 'jazz'"),
        ('[icecast.mounts]\nfolk = "/folk.mp3"', "icecast.mounts.folk", "does not have"),
        ('[icecast.mounts]\njazz = "/a b.mp3"', "icecast.mounts.jazz", "start with '/'"),
        ('[icecast.mounts]\nmetal = "/jazz.mp3"', "icecast.mounts.metal", "also station"),
    ],
)
def test_mistakes_name_file_key_and_line(table: str, key: str, message: str) -> None:
    text = lineup(table)
    with pytest.raises(ConfigError) as caught:
        parse_stations(text, "radio.toml")
    error = caught.value
    assert error.path == "radio.toml"
    assert error.key == key
    assert message in error.message
    assert error.line is not None
    assert text.splitlines()[error.line - 1].startswith(key.split(".")[-1])
    assert f"key {key!r}" in str(error)


def test_a_mount_override_names_its_station() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stations(lineup('[icecast.mounts]\njazz = "/a b.mp3"'))
    assert caught.value.station == "jazz"
    assert "station 'jazz'" in str(caught.value)
