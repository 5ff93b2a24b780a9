"""A station and a count in, that many new tracks in the cache, catalog and backlog out.

The offline path behind `radio generate`: the same requests, generator and
preparation stages as the scheduler, run synchronously for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from radio.catalog import CatalogWriter
from radio.errors import RadioError
from radio.generators.base import GenerationRequest, Generator
from radio.prepare import new_track, prepare_audio, write_cache
from radio.prompts import concrete_prompt
from radio.stations import Station


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
        prompts, requests = [], []
        for _ in range(batch):
            seed = seeds()
            prompt = concrete_prompt(station, seed)
            prompts.append(prompt)
            requests.append(
                GenerationRequest(
                    station.id,
                    station.genre,
                    prompt.text,
                    seed,
                    station.track_seconds,
                    prompt.params,
                )
            )
        try:
            results = generator.generate(requests)
        except RadioError as exc:
            for _ in requests:
                yield None, f"generation failed: {exc}"
            remaining -= batch
            continue
        for prompt, generated in zip(prompts, results, strict=True):
            try:
                prepared = prepare_audio(generated)
                path = write_cache(prepared, cache_dir, station.id)
                row = new_track(
                    generated, prepared, path, prompt.title, generator.name, generator.model
                )
                track_id = catalog.run_sync(lambda c, row=row: c.add_track(row))  # type: ignore[misc]
            except RadioError as exc:
                yield None, f"seed {generated.request.seed}: {exc}"
                continue
            yield track_id, f"{row.title} ({row.duration:.1f} s)"
        remaining -= batch
