"""Generators as workers on Ray: batches in on the head node, compressed audio back.

`wire` packs audio for the trip (FLAC bytes), `worker` is the class each Ray
actor runs (it builds one generator on its node), `view` is what the doctor and
the console show, and `ray_pool` holds the actors, hands each batch to a free one
and retries a batch whose actor died. Only `ray_pool` imports Ray, and only the
CLI imports `ray_pool`, when `--workers ray` asks for it: the core install and
`--workers local` never load Ray.
"""

from radio.generators.pool.view import Pooled, WorkerView

__all__ = ["Pooled", "WorkerView"]
