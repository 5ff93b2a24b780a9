"""A station and a count in, that many new tracks in the cache and catalog out (`radio generate`).

The scheduler's requests and the one preparation path, run synchronously for
the CLI: what `radio generate` adds is exactly what the server would have made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from radio.catalog import CatalogWriter
from radio.errors import RadioError
from radio.generators import Generator
from radio.lineup.stations import Station
from radio.prepare import Maker, prepare_or_skip
from radio.scheduler import pending
from radio.tracks import Track


def make_tracks(
    station: Station,
    count: int,
    generator: Generator,
    catalog: CatalogWriter,
    cache_dir: Path,
    seeds: Callable[[], int],
) -> Iterator[Track | None]:
    """Yield each new track as it is ready, or None for one that failed (logged)."""
    maker = Maker(generator.name, generator.model)
    remaining = count
    while remaining > 0:
        size = min(remaining, max(1, generator.max_batch))
        remaining -= size
        batch = [pending(station, seeds(), station.track_seconds) for _ in range(size)]
        used = catalog.run_sync(lambda c: c.fingerprints(station.id))
        requests = [replace(item.request, used_plans=frozenset(used)) for item in batch]
        try:
            results = generator.generate(requests)
        except RadioError:
            yield from [None] * size
            continue
        for item, generated in zip(batch, results, strict=True):
            yield prepare_or_skip(
                generated, item.prompt.title, maker, cache_dir, catalog, item.prompt.alternatives
            )
