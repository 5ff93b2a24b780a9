"""A benchmark's figures in, printed JSON and a saved file out."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def save(result: dict[str, Any], output: Path, summary: Iterable[str] | None = None) -> None:
    """Write the JSON; print the summary lines, or the JSON itself when there are none."""
    output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    output.write_text(text + "\n")
    for line in text.splitlines() if summary is None else summary:
        click.echo(line)
    click.echo(f"saved {output}", err=True)
