"""The values a track is known by: on its way into the catalog, in the backlog, and as a record.

The bottom floor: stages and edges import these, this module imports no stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NewTrack:
    """A prepared track on its way into the catalog."""

    station: str
    title: str
    prompt: str
    seed: int
    generator: str
    model: str
    parameters: Mapping[str, object]
    duration: float
    sample_rate: int
    loudness: float
    audio_hash: str
    path: str  # relative to the cache folder


@dataclass(frozen=True)
class Track:
    """A prepared track, ready for playout."""

    id: int
    station: str
    title: str
    path: Path
    duration: float
