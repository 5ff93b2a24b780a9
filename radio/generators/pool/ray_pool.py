"""Settings and a Ray cluster in, a Generator whose batches run on Ray actors out.

Each worker is one actor holding one generator: one per GPU for MusicGen, one per
core for the synth. `generate` (called on the scheduler's batch thread, never on
the event loop) claims an idle worker, sends it the batch and waits; audio comes
back as FLAC (see `wire`) and is prepared and recorded on the head node like any
other, so the catalog keeps one writer. A worker whose actor dies mid-batch is
dropped and the batch goes to the next free worker; one whose model did not load
is reported once with its reason and never sent a batch. `refresh`, once a
scheduling round, promotes workers that became ready and starts one for every
core or GPU that joined the cluster.

Only this module and `cluster` (joining a cluster, the doctor's view, the pool the
settings ask for) import Ray; the CLI imports them for `--workers ray`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

from radio.errors import GeneratorError
from radio.generators.base import GeneratedAudio, GenerationRequest
from radio.generators.pool.view import WorkerView
from radio.generators.pool.wire import unpack
from radio.generators.pool.worker import Ready, Worker, WorkerSpec

log = logging.getLogger(__name__)

NAMESPACE = "radio"  # the doctor finds the server's workers by it
# How long a batch whose worker died waits for another before it fails (and the
# scheduler's back-off takes over): long enough for a replacement actor to start.
CLAIM_SECONDS = 120.0
POLL_SECONDS = 0.5  # how often a batch waiting for a worker looks again
KEEP_LOST = 16  # lost workers kept in the view, newest last

LIVE = ("starting", "idle", "busy")
RemoteWorker: Any = ray.remote(Worker)


@dataclass
class _Slot:
    name: str
    actor: Any
    ready: Any  # the ObjectRef of Worker.ready, until it is settled
    model: str
    state: str = "starting"
    node: str = "?"
    device: str = "?"
    batches: int = 0
    failures: int = 0
    reason: str = ""
    making: tuple[str, ...] = ()

    def view(self) -> WorkerView:
        return WorkerView(
            self.name,
            self.node,
            self.device,
            self.model,
            self.state,
            self.batches,
            self.failures,
            self.reason,
            self.making,
        )


class RayPool:
    """The Generator protocol over a set of Ray actors, one batch per actor at a time."""

    workers_kind = "ray"

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        name: str,
        model: str,
        max_batch: int,
        workers: int | None = None,
        owns_ray: bool = False,
    ) -> None:
        self.spec = spec
        self.name = name
        self.model = model
        self.max_batch = max_batch
        self._fixed = workers  # None: as many as the cluster's cores or GPUs allow
        self._owns_ray = owns_ray
        self._slots: list[_Slot] = []
        self._changed = threading.Condition()
        self._refreshing = threading.Lock()
        self._names = count(1)
        self._prefix = f"radio-{os.getpid()}-{name}"
        self._closed = False  # a batch thread still waiting must not start workers anew

    # -- Pooled -------------------------------------------------------------------
    def capacity(self) -> int:
        with self._changed:
            return sum(s.state in ("idle", "busy") for s in self._slots)

    def workers(self) -> list[WorkerView]:
        with self._changed:
            return [s.view() for s in self._slots]

    def refresh(self) -> None:
        with self._refreshing:  # one at a time, or two would start the same new workers
            if not self._closed:
                self._refresh()

    def _refresh(self) -> None:
        with self._changed:
            starting = {s.ready: s for s in self._slots if s.state == "starting"}
        if starting:
            done, _ = ray.wait(list(starting), num_returns=len(starting), timeout=0)
            for ref in done:
                self._settle(starting[ref], ref)
        wanted = self._fixed if self._fixed is not None else self.wanted(ray.cluster_resources())
        with self._changed:
            held = sum(s.state in (*LIVE, "failed") for s in self._slots)
        for _ in range(wanted - held):
            self._start()

    def wanted(self, resources: dict[str, float]) -> int:
        """Workers the cluster has room for: one per GPU, or one per core for the synth."""
        if self.spec.num_gpus:
            return math.floor(resources.get("GPU", 0.0) / self.spec.num_gpus)
        return math.floor(resources.get("CPU", 0.0) / max(self.spec.num_cpus, 0.01))

    def cpu_seconds(self) -> float:
        """CPU time the ready workers' processes have used so far, together."""
        with self._changed:
            actors = [s.actor for s in self._slots if s.state in ("idle", "busy")]
        return float(sum(ray.get([actor.cpu_seconds.remote() for actor in actors])))

    # -- Generator ----------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        batch = list(requests)
        while True:
            slot = self._claim(CLAIM_SECONDS)
            if slot is None:
                raise GeneratorError(f"no Ray worker free within {CLAIM_SECONDS:.0f} s")
            slot.making = tuple(f"{r.station} (seed {r.seed})" for r in batch)
            try:
                packed = ray.get(slot.actor.generate.remote(batch))
            except (RayActorError, ActorUnavailableError) as exc:
                # The actor (or its node) died: this batch goes to the next worker.
                self._lose(slot, f"died during a batch: {type(exc).__name__}")
                log.warning("%s died during a batch; retrying it on another worker", slot.name)
                continue
            except RayTaskError as exc:
                self._release(slot, failed=True)
                raise GeneratorError(f"{slot.name}: {_cause(exc)}") from exc
            self._release(slot, failed=False)
            return [unpack(item) for item in packed]

    def close(self) -> None:
        with self._refreshing, self._changed:
            self._closed = True
            slots, self._slots = self._slots, []
            self._changed.notify_all()
        if self._owns_ray:
            ray.shutdown()  # the cluster was ours alone: its actors end with it
            return
        for slot in slots:
            # A failed worker is still an actor holding its CPU or GPU: end it too.
            if slot.state != "lost":
                ray.kill(slot.actor, no_restart=True)

    # -- the slots ----------------------------------------------------------------
    def _start(self) -> None:
        name = f"{self._prefix}-{next(self._names)}"
        actor = RemoteWorker.options(
            name=name,
            namespace=NAMESPACE,
            num_cpus=self.spec.num_cpus,
            num_gpus=self.spec.num_gpus,
            max_restarts=0,
            # A second thread answers `stats` (the doctor) while a batch runs.
            max_concurrency=2,
        ).remote(self.spec)
        slot = _Slot(name, actor, actor.ready.remote(), self.model)
        with self._changed:
            self._slots.append(slot)

    def _settle(self, slot: _Slot, ref: Any) -> None:
        try:
            ready: Ready = ray.get(ref)
        except (RayActorError, ActorUnavailableError) as exc:
            self._lose(slot, f"died while starting: {type(exc).__name__}")
            log.error("%s died while starting: %s", slot.name, exc)
            return
        with self._changed:
            slot.node, slot.device, slot.model = ready.node, ready.device, ready.model
            if ready.error is None:
                slot.state = "idle"
                self._changed.notify_all()
            else:
                slot.state, slot.reason = "failed", ready.error
        if ready.error is None:
            log.info("%s ready on %s (%s, %s)", slot.name, slot.node, slot.device, slot.model)
        else:
            # Reported once: a failed worker holds its place, so it is never restarted.
            log.error("%s on %s cannot load its model: %s", slot.name, slot.node, ready.error)
            ray.kill(slot.actor, no_restart=True)

    def _claim(self, timeout: float) -> _Slot | None:
        """An idle worker, marked busy; None when none is free within `timeout`.

        While it waits it refreshes, so a batch made without the scheduler (`radio
        generate`, the benchmark) also sees workers become ready or join."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                idle = [s for s in self._slots if s.state == "idle"]
                if idle:
                    slot = min(idle, key=lambda s: s.batches)  # spread the work
                    slot.state = "busy"
                    return slot
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._changed.wait(min(left, POLL_SECONDS))
            self.refresh()

    def _release(self, slot: _Slot, *, failed: bool) -> None:
        with self._changed:
            slot.making = ()
            if failed:
                slot.failures += 1
            else:
                slot.batches += 1
            if slot.state == "busy":
                slot.state = "idle"
            self._changed.notify_all()

    def _lose(self, slot: _Slot, reason: str) -> None:
        with self._changed:
            slot.making = ()
            slot.state, slot.reason = "lost", reason
            slot.failures += 1
            lost = [s for s in self._slots if s.state == "lost"]
            for old in lost[:-KEEP_LOST]:
                self._slots.remove(old)
            self._changed.notify_all()


def _cause(exc: RayTaskError) -> str:
    cause = exc.cause
    return str(cause) if cause is not None else str(exc).splitlines()[-1]
