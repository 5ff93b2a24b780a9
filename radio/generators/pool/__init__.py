"""Generators as workers on Ray: batches in on the head node, compressed audio back.

`wire` packs audio for the trip (FLAC bytes), `worker` is the class each Ray
actor runs (it builds one generator on its node), `view` is what the scheduler,
the doctor and the console read, `ray_pool` holds the actors, hands each batch to
a free one and retries a batch whose actor died, and `cluster` joins a cluster and
builds the pool the settings ask for. Only `ray_pool` and `cluster` import Ray, and
only the CLI (and the bench) import them, when `--workers ray` asks: the core
install and `--workers local` never load Ray.
"""

from radio.generators.pool.view import Pooled, WorkerView

__all__ = ["Pooled", "WorkerView"]
