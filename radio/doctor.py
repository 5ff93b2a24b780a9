"""Settings in, a report of what is installed and which generator would run (and why) out."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
from collections.abc import Iterator

from radio.errors import RadioError
from radio.generators import decide, probe
from radio.generators.synth.fluid import find
from radio.lineup.stations import load_stations
from radio.settings import Settings

PACKAGES = (
    "aiohttp", "APScheduler", "sqlite-utils", "numpy", "scipy", "lameenc", "av", "pyloudnorm",
    "soundfile", "pyfluidsynth", "torch", "transformers", "ray",
)  # fmt: skip
PROGRAMS = ("ffmpeg", "ffprobe", "chromium")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def report(settings: Settings) -> Iterator[str]:
    yield f"python        {platform.python_version()} ({platform.platform()})"
    for package in PACKAGES:
        yield f"{package:<14}{_version(package)}"
    for program in PROGRAMS:
        yield f"{program:<14}{shutil.which(program) or 'not found (only the tests need it)'}"
    try:
        lineup = load_stations(settings.stations)
        yield f"stations      {settings.stations}: {len(lineup.enabled)} enabled, OK"
    except RadioError as exc:
        yield f"stations      {exc}"
    found = probe(settings.model)
    yield f"cuda          {found.cuda_device or 'no CUDA device'}"
    yield f"weights       {found.weights or f'none found locally for {settings.model!r}'}"
    decision = decide(settings.generator, found)
    instruments, _ = find(settings.soundfont)
    yield f"synth plays   {instruments.description}"
    if settings.workers == "local":
        yield f"generator     {decision.generator}: {decision.reason}"
        yield f"workers       local: {where_local(decision.generator, settings.worker_processes)}"
        return
    yield f"workers       ray at {settings.ray_address} (generator {settings.generator})"
    try:
        from radio.generators.pool.cluster import cluster_report
    except ImportError:
        yield "ray           not installed: pip install -e '.[ray]'"
        return
    yield from cluster_report(settings.ray_address)


def where_local(generator: str, worker_processes: bool) -> str:
    """Where a local generator and preparation run, as the server will place them."""
    if not worker_processes:
        return "the generator and preparation on the server's own threads"
    if generator == "synth":
        return "the synth and preparation each in a worker process of its own"
    return f"{generator} in the server's own process, preparation in a worker process"
