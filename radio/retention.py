"""The cache and the catalog in, a bounded cache out: sweeps, pruning, the free-space floor.

Three jobs keep a long-running radio's disk in hand (issue #10):
- `sweep` at start: delete `.tmp` files a crash left, audio no catalog row names, and
  close the plays a crash left open;
- `prune`, a periodic job on the radio's scheduler: beyond the cache limit, delete the
  audio of the least played, oldest tracks (their rows stay, marked pruned), never a
  track in a backlog or held by playout;
- `SpaceGuard`: below the free-space floor generation pauses, with one log line naming
  the folder and what is free, and resumes by itself once space returns.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from radio.catalog import Catalog

log = logging.getLogger(__name__)

AUDIO_SUFFIX = ".flac"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def audio_files(cache_dir: Path) -> list[Path]:
    """Every track's audio in the cache: one folder per station."""
    return [path for path in cache_dir.glob(f"*/*{AUDIO_SUFFIX}") if path.is_file()]


def cache_bytes(cache_dir: Path) -> int:
    return sum(path.stat().st_size for path in audio_files(cache_dir))


@dataclass(frozen=True)
class Swept:
    partial_files: int
    orphans: int
    open_plays: int


def sweep(catalog: Catalog, cache_dir: Path) -> Swept:
    """Blocking (the catalog's own thread): clear what a crash or a hard stop left behind."""
    # Ours are dot-named, but any partial file left in a station's folder goes.
    partial = [path for path in cache_dir.glob("*/*.tmp") if path.is_file()]
    known = catalog.paths()
    orphans = [
        path for path in audio_files(cache_dir) if str(path.relative_to(cache_dir)) not in known
    ]
    for path in partial + orphans:
        path.unlink(missing_ok=True)
    swept = Swept(len(partial), len(orphans), catalog.close_open_plays())
    if swept != Swept(0, 0, 0):
        log.info(
            "start-up sweep: removed %d partial files and %d audio files with no catalog row,"
            " closed %d plays left open",
            *(swept.partial_files, swept.orphans, swept.open_plays),
        )
    return swept


def prune(catalog: Catalog, cache_dir: Path, limit_bytes: int, keep: tuple[int, ...]) -> int:
    """Blocking (the catalog's own thread): delete audio until the cache is within
    `limit_bytes`, least played and oldest first; returns the bytes freed."""
    over = cache_bytes(cache_dir) - limit_bytes
    if over <= 0:
        return 0
    freed, pruned = 0, []
    for record in catalog.prunable(keep):
        if freed >= over:
            break
        path = cache_dir / record.path
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            size = 0  # already gone: the row is marked all the same
        freed += size
        pruned.append(record.id)
    catalog.mark_pruned(pruned)
    log.info(
        "cache over %s: pruned the audio of %d tracks (%s freed)",
        megabytes(limit_bytes),
        len(pruned),
        megabytes(freed),
    )
    return freed


class SpaceGuard:
    """Says whether there is room to generate; logs once when it pauses and once on resuming."""

    def __init__(self, path: Path, floor_bytes: int) -> None:
        self.path = path
        self.floor_bytes = floor_bytes
        self.paused = False

    def room(self) -> bool:
        free = free_bytes(self.path)
        if free < self.floor_bytes and not self.paused:
            log.warning(
                "generation paused: %s has %s free, under the %s floor; stations replay"
                " from the cache until space returns",
                *(self.path.resolve(), megabytes(free), megabytes(self.floor_bytes)),
            )
        elif free >= self.floor_bytes and self.paused:
            log.warning("generation resumed: %s has %s free", self.path.resolve(), megabytes(free))
        self.paused = free < self.floor_bytes
        return not self.paused


def free_bytes(path: Path) -> int:
    """Free bytes where `path` lives (its nearest existing parent before it is made)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free
