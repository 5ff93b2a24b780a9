"""The package's location in, the files that ship beside the code out: web/ and the default
stations.toml.

A wheel installs them inside the package (radio/web/, radio/defaults/stations.toml, mapped in
pyproject.toml); a source checkout, run directly or installed editable, keeps them at the top
of the repo, where people look for them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _shipped(installed: str, checkout: str) -> Path:
    path = PACKAGE / installed
    return path if path.exists() else PACKAGE.parent / checkout


WEB = _shipped("web", "web")
DEFAULT_STATIONS = _shipped("defaults/stations.toml", "stations.toml")
