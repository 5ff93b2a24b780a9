"""A pool of generator workers, as the scheduler, the doctor and the console see it.

The scheduler asks a `Pooled` generator how many batches it can take at once
(`capacity`) and lets it look for new or lost workers (`refresh`) once a round,
off the event loop; the doctor and the console show its `workers()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from radio.generators.base import Generator


@dataclass(frozen=True)
class WorkerView:
    name: str
    node: str  # where it runs: an IP address, or "head" for the server's own process
    device: str  # "cpu", "cuda:0 (NVIDIA H200)"...
    model: str
    state: str  # starting, idle, busy, failed (model did not load), lost (actor died)
    batches: int = 0  # batches made
    failures: int = 0  # batches that failed or were lost on it
    reason: str = ""  # why it failed or was lost
    making: tuple[str, ...] = ()  # the batch on it now: "jazz (seed 42)", ...


@runtime_checkable
class Pooled(Generator, Protocol):
    workers_kind: str  # "ray"

    def capacity(self) -> int:
        """Batches that may be in flight at once: the workers ready to take one."""
        ...

    def refresh(self) -> None:
        """Notice workers that became ready, failed, died or joined; blocking but short."""
        ...

    def workers(self) -> list[WorkerView]: ...
