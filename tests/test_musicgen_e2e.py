"""`radio serve --generator musicgen` as a listener meets it: a real process, the tiny
checkpoint from disk, ffmpeg decoding the stream, the catalog naming MusicGen. And a
MusicGen that starts failing mid-broadcast: the station plays on."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from radio.generators.musicgen import MusicgenGenerator, MusicgenSettings
from tests.musicgen_tiny import build_tiny_musicgen
from tests.support import StartServer, short_lineup

pytestmark = pytest.mark.slow
RATE = 44100


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model is overhead-bound; the machine is shared
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def served(tiny: Path, tmp_path: Path) -> Iterator[str]:
    """The real CLI serving two 4-second stations from the tiny MusicGen; yields its URL."""
    stations = tmp_path / "stations.toml"
    stations.write_text(short_lineup(track_seconds=4, backlog_minutes=0.2))
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    command = [sys.executable, "-m", "radio", "serve", "--generator", "musicgen"]
    command += ["--model", str(tiny), "--device", "cpu", "--stations", str(stations)]
    command += ["--cache", str(tmp_path / "cache"), "--host", "127.0.0.1", "--port", str(port)]
    # One torch thread: the tiny model is overhead-bound and the test machine is shared.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                if get_json(f"{url}/api/tracks?station=jazz")["tracks"]:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"no track within 60 s: {(tmp_path / 'server.log').read_text()}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def test_ffmpeg_decodes_the_musicgen_stations_stream(served: str) -> None:
    command = ["ffmpeg", "-v", "error", "-t", "5.5", "-i", f"{served}/stream/jazz.mp3"]
    command += ["-f", "s16le", "-ac", "2", "-ar", str(RATE), "pipe:1"]
    decoded = subprocess.run(
        command,
        capture_output=True,
        timeout=40,
        check=False,
    )
    assert decoded.returncode == 0 and decoded.stderr.decode().strip() == ""
    pcm = np.frombuffer(decoded.stdout, np.int16).reshape(-1, 2)
    assert len(pcm) >= 5 * RATE
    assert np.abs(pcm).max() > 1000  # the model's audio, not the silence of an empty station
    tracks = get_json(f"{served}/api/tracks")["tracks"]
    assert tracks and all(track["generator"] == "musicgen" for track in tracks)
    first = tracks[-1]
    assert first["parameters"]["guidance_scale"] == 3.0 and first["parameters"]["device"] == "cpu"


async def test_a_musicgen_that_starts_failing_leaves_the_station_playing(
    tiny: Path,
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    generator = MusicgenGenerator(
        MusicgenSettings(model=str(tiny), device="cpu", window_seconds=2.0, overlap_seconds=0.5)
    )
    client, radio = await start_server(
        short_lineup(track_seconds=3, backlog_minutes=0.1), generator=generator
    )
    for _ in range(300):
        if radio.backlog.seconds_queued("jazz") >= 3:
            break
        await asyncio.sleep(0.1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(generator._decoder, "run_window", broken)
    with caplog.at_level(logging.ERROR):
        await asyncio.sleep(8.0)
        url = str(client.make_url("/stream/jazz.mp3"))
        async with client.session.get(url) as response:
            received = 0
            while received < 3 * 16000:  # 3 s at 128 kbit/s
                received += len(await asyncio.wait_for(response.content.readany(), timeout=5))
    assert "illegal memory access" in caplog.text and "station 'jazz' seed" in caplog.text
    assert radio.station("jazz").playout.now is not None
    generator.close()
