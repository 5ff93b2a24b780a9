from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from radio.catalog import CatalogWriter
from radio.cli import main
from radio.generators import KINDS
from radio.settings import DTYPES
from tests.support import REPO, short_lineup


def test_generate_fills_the_backlog_offline_and_catalog_lists_it(tmp_path: Path) -> None:
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup(track_seconds=3))
    cache = tmp_path / "cache"
    common = ["--stations", str(stations), "--cache", str(cache)]
    runner = CliRunner()
    result = runner.invoke(main, ["generate", "metal", "-n", "2", "--generator", "synth", *common])
    assert result.exit_code == 0, result.output
    assert "2 of 2 tracks added to metal's backlog" in result.output
    with CatalogWriter(cache / "catalog.db") as catalog:
        rows = catalog.run_sync(lambda c: c.unplayed())
    assert len(rows) == 2 and {r.generator for r in rows} == {"synth"}
    assert all((cache / r.path).is_file() for r in rows)
    listing = runner.invoke(main, ["catalog", "--cache", str(cache)])
    assert listing.exit_code == 0 and "2 tracks" in listing.output
    assert rows[0].title in listing.output


def test_generate_rejects_an_unknown_station(tmp_path: Path) -> None:
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup())
    result = CliRunner().invoke(main, ["generate", "polka", "--stations", str(stations)])
    assert result.exit_code != 0
    assert "no station 'polka'" in result.output and "jazz, metal" in result.output


def test_doctor_prints_the_generator_decision() -> None:
    result = CliRunner().invoke(main, ["doctor", "--generator", "synth"])
    assert result.exit_code == 0, result.output
    assert "generator     synth: generator = synth" in result.output
    assert "stations      stations.toml: 15 enabled, OK" in result.output


def test_the_options_offer_the_generators_and_precisions_declared_once() -> None:
    for name in ("serve", "generate", "doctor"):
        choices = {
            param.name: tuple(param.type.choices)
            for param in main.commands[name].params
            if isinstance(param.type, click.Choice)
        }
        assert (choices["generator"], choices["dtype"]) == (KINDS, DTYPES)


def test_serve_refuses_a_bad_stations_file(tmp_path: Path) -> None:
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup().replace('genre = "Metal"', 'genre = ""'))
    result = CliRunner().invoke(main, ["serve", "--stations", str(stations), "--port", "0"])
    assert result.exit_code != 0
    assert f"{stations}:" in result.output and "station 'metal', key 'genre'" in result.output


@pytest.mark.parametrize(
    "named", [(["--stations", "stations.toml"], {}), ([], {"RADIO_STATIONS": "stations.toml"})]
)
def test_serve_refuses_a_named_stations_file_that_does_not_exist(
    named: tuple[list[str], dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the default gets the shipped lineup written: a name someone gave must exist,
    even when it is the default's own name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RADIO_STATIONS", raising=False)
    args, env = named
    result = CliRunner().invoke(main, ["serve", "--port", "0", *args], env=env)
    assert result.exit_code != 0
    assert "stations.toml: cannot read stations file: No such file" in result.output
    assert not (tmp_path / "stations.toml").exists()


HUNG_SERVER = """
import logging, sys, threading
from pathlib import Path
from radio.cli import run_server
from radio.lineup.stations import load_stations
from radio.server.app import create_app
from radio.settings import Settings
from tests.dummies import HungGenerator

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
stations, cache, port = sys.argv[1:]
settings = Settings.load({"stations": Path(stations), "cache": Path(cache), "port": int(port)}, {})
generator = HungGenerator()
threading.Thread(
    target=lambda: generator.started.wait() and print("generator hung", flush=True), daemon=True
).start()
run_server(create_app(settings, load_stations(settings.stations), generator, "test"), settings)
"""


@pytest.mark.slow
def test_sigterm_stops_the_server_within_10_s_even_with_a_hung_generator(
    tmp_path: Path,
) -> None:
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", HUNG_SERVER, str(stations), str(tmp_path / "cache"), str(port)]
    server = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:  # block until the model is stuck inside generate()
            if "generator hung" in line:
                break
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        server.kill()
    assert took < 10.0, took
    assert server.returncode == 0, output
    assert "abandoning generation in flight for" in output
