"""Shared fixtures: a short-track lineup, a real server on 127.0.0.1 with a random port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from radio.core import Radio
from radio.generators import Generator
from radio.lineup.stations import parse_stations
from radio.server.app import create_app
from radio.server.keys import RADIO
from radio.settings import Settings
from tests.dummies import ToneGenerator
from tests.support import REPO, StartServer, short_lineup


@pytest.fixture
def stations_file(tmp_path: Path) -> Path:
    path = tmp_path / "stations.toml"
    path.write_text(short_lineup())
    return path


@pytest.fixture
def repo_stations(tmp_path: Path) -> Path:
    """A writable copy of the repo's own stations.toml."""
    path = tmp_path / "stations.toml"
    shutil.copy(REPO / "stations.toml", path)
    return path


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start the real app on 127.0.0.1 (random port); returns (client, radio)."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        text: str | None = None,
        generator: Generator | None = None,
        cache: Path | None = None,
        **settings: Any,
    ) -> tuple[TestClient[web.Request, web.Application], Radio]:
        path = tmp_path / "stations.toml"
        if text is not None or not path.exists():
            path.write_text(text or short_lineup())
        # Preparation on the server's threads: a worker process for each of the suite's
        # hundreds of servers costs seconds apiece, and test_offload shows the two make
        # the same files. `radio serve` runs in the e2e tests keep the processes.
        settings.setdefault("worker_processes", False)
        options = Settings.load(
            {"cache": cache or tmp_path / "cache", "stations": path, **settings}, environ={}
        )
        app = create_app(
            options, parse_stations(path.read_text(), path), generator or ToneGenerator(), "test"
        )
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client, app[RADIO]

    yield start
    for client in reversed(clients):
        await client.close()
