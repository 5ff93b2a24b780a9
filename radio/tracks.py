"""The values a track is known by: on its way into the catalog, in the backlog, and as a record.

The bottom floor: stages and edges import these, this module imports no stage.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
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


def unique_title(candidates: Sequence[str], taken: Container[str]) -> str:
    """The first candidate a station has not used yet; past them all, the first one
    numbered ("Embers in D minor No. 2"), so a station never repeats a title (#9)."""
    for title in candidates:
        if title not in taken:
            return title
    number = 2
    while f"{candidates[0]} No. {number}" in taken:
        number += 1
    return f"{candidates[0]} No. {number}"


@dataclass(frozen=True)
class Track:
    """A prepared track, ready for playout."""

    id: int
    station: str
    title: str
    path: Path
    duration: float
    # Taken from the catalog again because the backlog ran dry: such audio is not
    # backlog, or a station that replays would never ask for new tracks (#9).
    replay: bool = False


@dataclass(frozen=True)
class TrackRecord(NewTrack):
    """One unique track as the catalog holds it: what went in, and what it has become."""

    id: int
    created_at: str
    discarded_at: str | None  # set when "apply now" dropped it unplayed
    pruned_at: str | None  # set when retention deleted its audio to bound the cache
    plays: int

    def track(self, cache_dir: Path) -> Track:
        """The record as playout takes it."""
        return Track(self.id, self.station, self.title, cache_dir / self.path, self.duration)


@dataclass(frozen=True)
class PlayRecord:
    """One play of a track on its station."""

    play_id: int
    track_id: int
    station: str
    title: str
    duration: float
    started_at: str
    ended_at: str | None
    listeners: int | None


@dataclass(frozen=True)
class EditRecord:
    """One operator action in the console's audit trail."""

    id: int
    station: str
    action: str
    who: str
    at: str
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
