from __future__ import annotations

import re
from pathlib import Path

import pytest

from radio.errors import ConfigError
from radio.settings import Settings
from tests.support import REPO


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", readme, flags=re.M))
    assert documented == set(Settings.names())


def test_environment_then_overrides() -> None:
    env = {"RADIO_PORT": "9001", "RADIO_CACHE": "/tmp/x", "RADIO_GUIDANCE_SCALE": "4.5"}
    settings = Settings.load(environ=env)
    assert (settings.port, settings.cache, settings.guidance_scale) == (9001, Path("/tmp/x"), 4.5)
    assert Settings.load({"port": 7000, "host": None}, environ=env).port == 7000
    assert Settings.load(environ={}).port == 8000


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="RADIO_PORT"):
        Settings.load(environ={"RADIO_PORT": "eighty"})
    with pytest.raises(ConfigError, match="RADIO_WORKER_PROCESSES"):
        Settings.load(environ={"RADIO_WORKER_PROCESSES": "sometimes"})


@pytest.mark.parametrize(
    ("raw", "value"), [("false", False), ("0", False), ("Off", False), ("true", True), ("1", True)]
)
def test_a_switch_reads_as_words_people_write(raw: str, value: bool) -> None:
    assert Settings.load(environ={"RADIO_WORKER_PROCESSES": raw}).worker_processes is value


@pytest.mark.parametrize(
    "url", ["radio.example", "http://a b/", "https://x/\r\nicy-name: evil", "ftp://x/", "http://"]
)
def test_public_url_is_one_http_url(url: str) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        Settings.load({"public_url": url}, environ={})
    assert Settings.load({"public_url": "https://radio.example/live"}, environ={}).public_url


def test_workers_are_local_or_ray() -> None:
    assert Settings.load(environ={"RADIO_WORKERS": "ray"}).workers == "ray"
    with pytest.raises(ConfigError, match="key 'workers': unknown workers 'gpu'"):
        Settings.load(environ={"RADIO_WORKERS": "gpu"})
