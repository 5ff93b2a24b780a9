"""The wheel as pipx or a Docker image installs it: built from the repo, installed into a
fresh virtual environment outside it, `radio serve` run from an empty folder must write the
default lineup it ships and serve both pages with every script, stylesheet and icon they load.

No network: pip builds without isolation (setuptools from this interpreter) and installs the
wheel alone (--no-deps --no-index); the dependencies come from this interpreter's
site-packages through a .pth file. A .pth line only adds a folder to sys.path, the .pth files
in that folder are not run, so the repo's editable install there cannot shadow the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from radio.lineup.stations import load_stations
from tests.support import REPO, wait_for

pytestmark = pytest.mark.slow

TOKEN = "wheel-test-token"
BUILD_INPUTS = ("pyproject.toml", "README.md", "stations.toml", "radio", "web")
JS_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?["'](\.{1,2}/[^"']+)["']""", re.M)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH (it may point at the repo) or RADIO_* settings."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RADIO_")}
    return {**env, **extra}


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp: Path) -> Path:
    """pip wheel from a copy of the build inputs: setuptools writes build/ and *.egg-info
    beside its sources, and the repo is not ours to litter."""
    source = tmp / "source"
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(REPO / name, source / name)
    dist = tmp / "dist"
    pip = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation")
    run(*pip, "--wheel-dir", dist, source, cwd=tmp)
    (wheel,) = dist.glob("radio-*.whl")
    return wheel


def make_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(run(python, "-c", where, cwd=tmp).strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index")
    run(*pip, wheel, cwd=tmp)
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200, url
        body: bytes = response.read()
    assert body, f"{url}: empty body"
    return body


class StaticLinks(HTMLParser):
    """The /static/ URLs a page's src and href attributes point at."""

    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith("/static/"):
                self.links.add(value)


def assets_of(base: str, page: str) -> Iterator[tuple[str, bytes]]:
    """Every /static/ file `page` loads, following the JS modules' relative imports."""
    parser = StaticLinks()
    parser.feed(get(base + page).decode())
    todo, seen = sorted(urljoin(base, link) for link in parser.links), set[str]()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        body = get(url)
        yield url, body
        if url.endswith(".js"):
            todo += (urljoin(url, target) for target in JS_IMPORT.findall(body.decode()))


def test_the_wheel_serves_its_pages_and_lineup_from_an_empty_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if not n.startswith("radio-")}  # not dist-info
    code = {p.relative_to(REPO).as_posix() for p in (REPO / "radio").rglob("*.py")}
    web = {f"radio/{p.relative_to(REPO).as_posix()}" for p in REPO.glob("web/**/*") if p.is_file()}
    assert shipped == code | web | {"radio/defaults/stations.toml"}

    venv = make_venv(tmp_path, wheel)
    home = tmp_path / "home"
    home.mkdir()
    installed = run(venv / "bin" / "python", "-c", "import radio; print(radio.__file__)", cwd=home)
    assert Path(installed.strip()).is_relative_to(venv), installed

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [venv / "bin" / "radio", "serve", "--port", str(port), "--generator", "synth"],
            cwd=home,
            env=clean_env(RADIO_ADMIN_TOKEN=TOKEN),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"radio serve exited {server.returncode}:\n{log.read_text()}")
            try:
                return bool(get(base + "/"))
            except OSError:
                return False

        wait_for(answers, 180, "the installed radio to answer on /")
        assert (home / "stations.toml").read_bytes() == (REPO / "stations.toml").read_bytes()
        assert "wrote the default lineup to stations.toml" in log.read_text()
        on_air = json.loads(get(base + "/api/stations"))["stations"]
        assert len(on_air) == len(load_stations(REPO / "stations.toml").enabled)

        served: dict[str, bytes] = {}
        for page in ("/", "/admin"):
            served |= dict(assets_of(base, page))
        for url, body in served.items():
            assert body == (REPO / "web" / urlparse(url).path.removeprefix("/static/")).read_bytes()
        names = {urlparse(url).path for url in served}
        for name in ("css/radio.css", "js/player.js", "js/api.js", "js/admin.js", "icon.svg"):
            assert f"/static/{name}" in names, names

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=120) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
