"""The `radio` command: serve (the default), stations, generate, catalog, doctor, bench."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
from click_default_group import DefaultGroup

from radio.bench.catalog import catalog_command
from radio.bench.encoders import encoders_command
from radio.bench.generate import generate_command
from radio.bench.hls import hls_command
from radio.bench.joins import joins_command
from radio.bench.listeners import listeners_command
from radio.bench.relay import relay_command
from radio.bench.soak import soak_command
from radio.bench.spectrograms import spectrograms_command
from radio.bench.synth import synth_command
from radio.bench.variety import variety_command
from radio.errors import RadioError
from radio.generators import KINDS, Generator
from radio.lineup.stations import StationsConfig, load_stations
from radio.malloc import tune_allocator
from radio.settings import DTYPES, WORKERS, Settings

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("radio")
# How long the exit waits for a track still being generated once the radio has stopped.
GENERATION_GRACE_SECONDS = 3.0


def _option(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A CLI option whose help comes from the one declaration in Settings."""
    flag = "--" + name.replace("_", "-")
    return click.option(flag, name, default=None, help=Settings.help(name), **kwargs)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for name, kind in reversed(
        [
            ("stations", click.Path(path_type=Path)),
            ("cache", click.Path(path_type=Path)),
            ("generator", click.Choice(KINDS)),
            ("model", str),
            ("soundfont", click.Path(dir_okay=False, path_type=Path)),
            ("device", str),
            ("dtype", click.Choice(DTYPES)),
            ("guidance_scale", float),
            ("top_k", click.IntRange(1, 2048)),
            ("temperature", click.FloatRange(0.01, 10.0)),
            ("workers", click.Choice(WORKERS)),
            ("worker_processes", click.BOOL),
            ("ray_address", str),
        ]
    ):
        func = _option(name, type=kind)(func)
    return func


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(overrides)
    except RadioError as exc:
        raise click.ClickException(str(exc)) from exc


def _lineup(settings: Settings) -> StationsConfig:
    try:
        return load_stations(settings.stations)
    except RadioError as exc:
        raise click.ClickException(str(exc)) from exc


def _generator(settings: Settings, serving: bool = False) -> tuple[Generator, str]:
    """The generator the settings ask for; a server runs the synth in a worker process
    (unless `worker_processes` is off), `radio generate` runs it in its own."""
    from radio.generators.select import choose_generator

    if settings.workers == "ray":
        return _ray_pool(settings)
    try:
        return choose_generator(
            settings.generator,
            model=settings.model,
            soundfont=settings.soundfont,
            device=settings.device,
            dtype=settings.dtype,
            guidance_scale=settings.guidance_scale,
            top_k=settings.top_k,
            temperature=settings.temperature,
            spill_dir=Path(settings.cache) if serving and settings.worker_processes else None,
        )
    except RadioError as exc:
        raise click.ClickException(str(exc)) from exc


def _ray_pool(settings: Settings) -> tuple[Generator, str]:
    try:
        from radio.generators.pool.cluster import ray_pool
    except ImportError as exc:
        raise click.ClickException(
            f"--workers ray needs Ray ({exc}): pip install -e '.[ray]'"
        ) from exc
    try:
        return ray_pool(settings)
    except RadioError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(cls=DefaultGroup, default="serve", default_if_no_args=True)
@click.version_option(package_name="radio")
def _main() -> None:
    """AI Radio: fifteen genre stations of generated music, streamed Icecast-style."""


main = cast(click.Group, _main)  # DefaultGroup is untyped; it is a click.Group


@main.command()
@_option("host", type=str)
@_option("port", type=int)
@_common
def serve(**options: Any) -> None:
    """Run the radio server (the default command)."""
    from radio.server.app import create_app

    settings = _settings(**options)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # APScheduler logs every run of every job at INFO (the top-up runs twice a second);
    # its warnings and job errors still come through.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    if options["stations"] is None and "RADIO_STATIONS" not in os.environ:
        _first_run(settings.stations)
    lineup = _lineup(settings)
    _raise_open_files_limit()
    tune_allocator()
    settings, token_from = console_token(settings)
    generator, reason = _generator(settings, serving=True)
    app = create_app(settings, lineup, generator, reason)
    base = listener_base(settings)
    click.echo(f"AI Radio: {len(lineup.enabled)} stations")
    click.echo(f"  listen:  {base}/")
    if token_from == "RADIO_ADMIN_TOKEN":
        click.echo(f"  console: {base}/admin  (admin token from RADIO_ADMIN_TOKEN)")
    else:
        click.echo(f"  console: {base}/admin#token={settings.admin_token}")
        click.echo(f"           (admin token kept in {token_from})")
    sys.stdout.flush()  # seen at once under a service manager too, where stdout is a pipe
    run_server(app, settings)


def run_server(app: web.Application, settings: Settings) -> None:
    """Listen and serve until SIGINT or SIGTERM."""
    from aiohttp import web

    from radio.heap import freeze_on_startup
    from radio.server.listen import listening_socket

    try:
        sock = listening_socket(settings.host, settings.port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {exc}"
        ) from exc
    app.on_startup.append(freeze_on_startup)  # after the radio's own: once it is on air
    # Listener streams are closed first on the way out, so a short grace is plenty; with
    # generation given at most a few seconds more, SIGTERM ends the server within 10 s.
    web.run_app(app, sock=sock, print=None, access_log=None, shutdown_timeout=3.0)
    from radio.scheduler import finish_generation

    if not finish_generation(GENERATION_GRACE_SECONDS):
        log.warning("exiting with generation still running (a hung generator)")


def _raise_open_files_limit() -> None:
    """Every listener, request and track file is a descriptor, and a service's soft limit
    is often 1,024 (issue #10: 1,100 idle sockets took the radio down): use the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= hard:
        log.info("open files: limit %d (the hard limit)", soft)
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("open files: limit %d; cannot raise it to %d: %s", soft, hard, exc)
        return
    log.info("open files: limit raised from %d to %d (the hard limit)", soft, hard)


def console_token(settings: Settings) -> tuple[Settings, str]:
    """The token the console uses and where it came from; RADIO_ADMIN_TOKEN or the setting
    wins, else the one kept under cache/ (made on the first run)."""
    from radio.console import TOKEN_FILE, stored_token

    if settings.admin_token:
        return settings, "RADIO_ADMIN_TOKEN"
    try:
        token = stored_token(Path(settings.cache))
    except RadioError as exc:
        raise click.ClickException(str(exc)) from exc
    return replace(settings, admin_token=token), str(Path(settings.cache) / TOKEN_FILE)


def listener_base(settings: Settings) -> str:
    """The URL to print: public_url, else the listening address (loopback for a wildcard)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _first_run(stations: Path) -> None:
    """A fresh `radio serve` with no stations file of its own gets the shipped lineup, written
    where the stations setting points so the operator console can edit it. Only for the
    default: a stations file someone named must exist (so a typo is not a new radio)."""
    from radio.shipped import DEFAULT_STATIONS

    if stations.exists():
        return
    try:
        stations.write_bytes(DEFAULT_STATIONS.read_bytes())
    except OSError as exc:
        raise click.ClickException(
            f"{stations}: cannot write the default lineup: {exc.strerror}"
        ) from exc
    log.info(
        "wrote the default lineup to %s (there was none); edit it to change stations", stations
    )


@main.command()
@_option("stations", type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Only validate; exit non-zero on any error.")
def stations(stations: Path | None, check: bool) -> None:
    """List the stations of stations.toml, or validate it with --check."""
    settings = _settings(stations=stations)
    lineup = _lineup(settings)
    if check:
        click.echo(f"{settings.stations}: {len(lineup.stations)} stations, OK")
        return
    for s in lineup.stations:
        state = "" if s.enabled else "  (disabled)"
        click.echo(f"{s.id:<14} {s.name:<28} {s.genre:<14} {s.track_seconds:>5.0f} s{state}")


@main.command()
@click.argument("station")
@click.option("-n", "count", type=click.IntRange(1, 10_000), default=1, show_default=True)
@_common
def generate(station: str, count: int, **options: Any) -> None:
    """Generate N tracks for STATION into the backlog, offline."""
    from radio.catalog import CatalogWriter
    from radio.offline import make_tracks
    from radio.scheduler import random_seed

    settings = _settings(**options)
    # Why a track failed is logged by the preparation path; show it on stderr.
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(message)s")
    lineup = _lineup(settings)
    target = lineup.get(station)
    if target is None:
        raise click.ClickException(
            f"{settings.stations}: no station {station!r}"
            f" (have: {', '.join(s.id for s in lineup.stations)})"
        )
    generator, reason = _generator(settings)
    click.echo(f"generator: {generator.name} ({reason})", err=True)
    failures = 0
    try:
        with (
            CatalogWriter(Path(settings.cache) / "catalog.db") as catalog,
            click.progressbar(length=count, label=station, file=sys.stderr) as bar,
        ):
            tracks = make_tracks(
                target, count, generator, catalog, Path(settings.cache), random_seed
            )
            for track in tracks:
                bar.update(1)
                failures += track is None
    finally:
        generator.close()
    click.echo(f"{count - failures} of {count} tracks added to {station}'s backlog")
    if failures:
        sys.exit(1)


@main.command()
@_option("cache", type=click.Path(path_type=Path))
@click.option("--station", default=None, help="Only this station's tracks.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def catalog(cache: Path | None, station: str | None, limit: int) -> None:
    """List the newest tracks in the catalog."""
    from radio.catalog import CatalogWriter

    settings = _settings(cache=cache)
    with CatalogWriter(Path(settings.cache) / "catalog.db") as writer:
        total = writer.run_sync(lambda c: c.count(station))
        records = writer.run_sync(lambda c: c.tracks(station, limit))
    click.echo(f"{total} tracks")
    for r in records:
        click.echo(
            f"{r.id:>6}  {r.station:<14} {r.duration:>6.1f} s  plays {r.plays:<3} "
            f"{r.created_at[:19]}  {r.title}"
        )


@main.command()
@_common
def doctor(**options: Any) -> None:
    """What is installed, and which generator would be used and why."""
    from radio.doctor import report

    settings = _settings(**options)
    for line in report(settings):
        click.echo(line)


@main.group()
def bench() -> None:
    """Benchmarks that print and save JSON."""


bench.add_command(listeners_command)
bench.add_command(relay_command)
bench.add_command(synth_command)
bench.add_command(encoders_command)
bench.add_command(generate_command)
bench.add_command(variety_command)
bench.add_command(hls_command)
bench.add_command(joins_command)
bench.add_command(soak_command)
bench.add_command(spectrograms_command)
bench.add_command(catalog_command)
