"""A station and a count in, that many new tracks in the cache, catalog and backlog out.

The offline path behind `radio generate`: the same requests, generator and
preparation stages as the scheduler, run synchronously for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from radio.catalog import CatalogWriter
from radio.errors import RadioError
from radio.generators.base import Generator, request_for
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import Station
from radio.prepare import prepare_track


def fill(
    station: Station,
    count: int,
    generator: Generator,
    catalog: CatalogWriter,
    cache_dir: Path,
    seeds: Callable[[], int],
) -> Iterator[tuple[int | None, str]]:
    """Yield (track id or None on failure, message) per track as each is done."""
    remaining = count
    while remaining > 0:
        batch = min(remaining, max(1, generator.max_batch))
        remaining -= batch
        pairs = []
        for _ in range(batch):
            seed = seeds()
            prompt = concrete_prompt(station, seed)
            pairs.append((request_for(station, prompt, seed, station.track_seconds), prompt))
        try:
            results = generator.generate([request for request, _ in pairs])
        except RadioError as exc:
            for _ in pairs:
                yield None, f"generation failed: {exc}"
            continue
        for (_, prompt), generated in zip(pairs, results, strict=True):
            try:
                row = prepare_track(
                    generated, cache_dir, prompt.title, generator.name, generator.model
                )
                track_id = catalog.run_sync(lambda c, row=row: c.add_track(row))  # type: ignore[misc]
            except RadioError as exc:
                yield None, f"seed {generated.request.seed}: {exc}"
                continue
            yield track_id, f"{row.title} ({row.duration:.1f} s)"
