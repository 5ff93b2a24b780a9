from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from aiohttp import ClientSession
from click.testing import CliRunner

from radio.catalog import CatalogWriter
from radio.cli import console_token, main
from radio.console import TOKEN_FILE, stored_token
from radio.errors import ConfigError
from radio.generators import KINDS
from radio.settings import DTYPES, Settings
from tests.support import REPO, short_lineup, wait_until


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
    assert (
        "workers       local: the synth and preparation each in a worker process of its own"
        in result.output
    )
    threads = CliRunner().invoke(
        main, ["doctor", "--generator", "synth"], env={"RADIO_WORKER_PROCESSES": "off"}
    )
    assert "local: the generator and preparation on the server's own threads" in threads.output


def test_doctor_says_at_once_when_no_ray_cluster_answers() -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    result = CliRunner().invoke(
        main, ["doctor", "--workers", "ray", "--ray-address", "127.0.0.1:1"]
    )
    assert result.exit_code == 0, result.output
    assert "workers       ray at 127.0.0.1:1" in result.output
    assert "no cluster at 127.0.0.1:1: nothing answers at 127.0.0.1:1" in result.output


def test_doctor_says_which_instruments_the_synth_plays(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["doctor", "--generator", "synth"])
    assert result.exit_code == 0, result.output
    installed = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file()
    expected = "with /usr/share/sounds/sf2/FluidR3_GM.sf2" if installed else "sine fallback"
    assert "synth plays   " in result.output and expected in result.output
    missing = tmp_path / "missing.sf2"
    result = CliRunner().invoke(main, ["doctor", "--soundfont", str(missing)])
    assert result.exit_code == 0, result.output
    assert "sine fallback" in result.output and str(missing) in result.output


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


def test_the_admin_token_is_made_once_owner_only_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    token = stored_token(cache)
    path = cache / TOKEN_FILE
    assert len(token) >= 32 and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_token(cache) == token
    path.write_text("two words\n")
    with pytest.raises(ConfigError, match="one word"):
        stored_token(cache)


# Generous: importing the radio takes seconds of CPU, and CI is a busy 2-core box.
STARTUP_SECONDS = 120


async def _serve(tmp_path: Path) -> tuple[list[str], int]:
    """Start `radio serve` with no admin token configured, read what it prints up to the
    console line, and call the console with the token it names; returns the lines and
    the API's status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "radio", "serve", "--port", str(port), "--stations", str(stations),
        "--cache", str(tmp_path / "cache"), "--generator", "synth",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "RADIO_ADMIN_TOKEN"},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not lines or "console:" not in lines[-1]:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=STARTUP_SECONDS)
            assert line, f"radio serve ended early: {lines}"
            lines.append(line.decode().rstrip())
        token = lines[-1].split()[1].partition("#token=")[2]
        headers = {"Authorization": f"Bearer {token}"}
        async with ClientSession() as session:

            async def answer() -> int | None:
                try:
                    url = f"http://127.0.0.1:{port}/api/admin/edits"
                    async with session.get(url, headers=headers) as response:
                        return response.status
                except OSError:
                    return None  # not listening yet

            status = await wait_until(answer, STARTUP_SECONDS, "the console to answer")
        return lines, status
    finally:
        proc.kill()  # how it stops is not this test's business, and a clean stop takes seconds
        await asyncio.wait_for(proc.wait(), timeout=30)


@pytest.mark.slow
async def test_a_first_run_prints_the_urls_with_a_working_console_token(
    tmp_path: Path,
) -> None:
    first, status = await _serve(tmp_path)
    base = first[1].split()[1]
    assert base.startswith("http://127.0.0.1:") and base.endswith("/")
    token = (tmp_path / "cache" / TOKEN_FILE).read_text().strip()
    assert first[2].split()[1] == f"{base}admin#token={token}"
    assert status == 200  # the printed token opens the console
    # Later starts reuse it (stored_token); one real start is enough here, they take seconds.
    assert (
        console_token(Settings.load({"cache": tmp_path / "cache"}, environ={}))[0].admin_token
        == token
    )


def test_radio_admin_token_wins_over_the_stored_one(tmp_path: Path) -> None:
    stored = stored_token(tmp_path)
    chosen = Settings.load({"cache": tmp_path}, environ={"RADIO_ADMIN_TOKEN": "chosen"})
    assert console_token(chosen) == (chosen, "RADIO_ADMIN_TOKEN")
    settings, source = console_token(Settings.load({"cache": tmp_path}, environ={}))
    assert (settings.admin_token, source) == (stored, str(tmp_path / TOKEN_FILE))


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
    assert "exiting with generation still running" in output
