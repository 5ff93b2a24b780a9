"""A benchmark's figures in, printed JSON and a saved file out."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from radio.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def stations_option(help: str = "The lineup whose stations it runs.") -> Callable[[F], F]:
    """Every bench's --stations (the command's `stations_path`)."""
    return click.option(
        "--stations",
        "stations_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("stations.toml"),
        show_default=True,
        help=help,
    )


def output_option(bench: str) -> Callable[[F], F]:
    """Every bench's --output: cache/bench/<bench>.json unless told."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path(f"cache/bench/{bench}.json"),
        show_default=True,
        help="Where the JSON is saved.",
    )


def soundfont_option(
    help: str = "SoundFont of the synth's FluidSynth renderer.",
) -> Callable[[F], F]:
    """--soundfont, for the benches that play the synth."""
    return click.option(
        "--soundfont",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Settings.soundfont,
        show_default=True,
        help=help,
    )


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def write_json(result: dict[str, Any], output: Path) -> str:
    """Write the JSON (whole, so a reader never sees half a file) and return its text."""
    output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    partial = output.with_name(output.name + ".part")
    partial.write_text(text + "\n")
    partial.replace(output)
    return text


def save(result: dict[str, Any], output: Path, summary: Iterable[str] | None = None) -> None:
    """Write the JSON; print the summary lines, or the JSON itself when there are none."""
    text = write_json(result, output)
    for line in text.splitlines() if summary is None else summary:
        click.echo(line)
    click.echo(f"saved {output}", err=True)
