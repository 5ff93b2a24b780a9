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

This is the only module that imports Ray; the CLI imports it for `--workers ray`.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

import ray
import ray.util
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

from radio.errors import GeneratorError
from radio.generators.base import GeneratedAudio, GenerationRequest
from radio.generators.pool.view import WorkerView
from radio.generators.pool.wire import unpack
from radio.generators.pool.worker import MUSICGEN, SYNTH, Ready, Worker, WorkerSpec
from radio.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "radio"  # the doctor finds the server's workers by it
QUIET: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False, "configure_logging": False}
STATS_SECONDS = 10.0
CONNECT_SECONDS = 2.0
# How long a batch whose worker died waits for another before it fails (and the
# scheduler's back-off takes over): long enough for a replacement actor to start.
CLAIM_SECONDS = 120.0
SYNTH_BATCH = 4
MUSICGEN_BATCH = 15
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
        for slot in slots:
            if slot.state in LIVE:
                ray.kill(slot.actor, no_restart=True)
        if self._owns_ray:
            ray.shutdown()

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


def answers(address: str, timeout: float = CONNECT_SECONDS) -> bool:
    """Whether `host:port` (or `ray://host:port`) takes a TCP connection. Ray itself keeps
    retrying an address that does not answer for minutes; the doctor and the server say so
    at once instead."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return True  # not host:port: let Ray judge it
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def connect(address: str) -> bool:
    """Join the Ray cluster at `address`; True when this process started Ray itself.

    "auto" is the cluster this machine joined with `ray start`; with none, a
    cluster of this machine alone is started, so `--workers ray` also works alone.
    """
    if ray.is_initialized():
        return False
    if address != "auto":
        if not answers(address):
            raise ConnectionError(f"nothing answers at {address}")
        ray.init(address=address, **QUIET)
        return False
    try:
        ray.init(address="auto", **QUIET)
        return False
    except ConnectionError:
        log.info("no Ray cluster running here; starting one on this machine")
        ray.init(include_dashboard=False, **QUIET)
        return True


def pool_kind(generator: str, gpus: float) -> str:
    """The generator the workers run: auto means MusicGen when the cluster has a GPU."""
    if generator == "auto":
        return "musicgen" if gpus else "synth"
    return generator


def cluster_report(address: str) -> Iterator[str]:
    """The doctor's view: the cluster's nodes and the server's workers, with their counts.

    Joins a running cluster only; never starts one."""
    started = not ray.is_initialized()
    if started:
        try:
            if not answers(address):
                raise ConnectionError(f"nothing answers at {address}")
            ray.init(address=address, **QUIET)
        except Exception as exc:
            yield f"ray           no cluster at {address}: {exc}"
            yield "              (ray start --head on this machine, or --workers local)"
            return
    try:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        gpus = sum(node["Resources"].get("GPU", 0.0) for node in nodes)
        yield f"ray           {ray.__version__}, {len(nodes)} node(s) at {address}"
        for node in nodes:
            have = node["Resources"]
            yield (
                f"  node        {node['NodeManagerAddress']}: {have.get('CPU', 0):.0f} CPU,"
                f" {have.get('GPU', 0):.0f} GPU"
            )
        yield f"  generator   {pool_kind('auto', gpus)} when auto ({gpus:.0f} GPU in the cluster)"
        yield from _workers_report()
    finally:
        if started:
            ray.shutdown()


def _workers_report() -> Iterator[str]:
    named = [
        a for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == NAMESPACE
    ]
    if not named:
        yield "  workers     none running (a server with --workers ray starts them)"
    for entry in sorted(named, key=lambda a: str(a["name"])):
        name = str(entry["name"])
        try:
            handle = ray.get_actor(name, namespace=NAMESPACE)
            reply: Any = ray.get(handle.stats.remote(), timeout=STATS_SECONDS)
        except Exception as exc:  # dead, or gone between listing and asking
            yield (
                f"  worker      {name}: not answering within {STATS_SECONDS:.0f} s"
                f" (still loading its model, or gone: {type(exc).__name__})"
            )
            continue
        ready: Ready = reply[0]
        batches, failures = int(reply[1]), int(reply[2])
        state = f"failed: {ready.error}" if ready.error else "ready"
        yield (
            f"  worker      {name} on {ready.node}, {ready.device}, {ready.model}:"
            f" {batches} batches, {failures} failures, {state}"
        )


def ray_pool(settings: Settings) -> tuple[RayPool, str]:
    """The pool `settings` ask for: synth or MusicGen workers on the cluster at ray_address."""
    try:
        owns = connect(settings.ray_address)
    except Exception as exc:  # Ray raises plain ConnectionError, RuntimeError...
        raise GeneratorError(
            f"cannot reach the Ray cluster at {settings.ray_address}: {exc}"
        ) from exc
    gpus = ray.cluster_resources().get("GPU", 0.0)
    kind = pool_kind(settings.generator, gpus)
    where = f"workers = ray at {settings.ray_address}"
    if kind == "synth":
        from radio.generators.synth.generator import MODEL

        pool = RayPool(
            WorkerSpec(SYNTH), name="synth", model=MODEL, max_batch=SYNTH_BATCH, owns_ray=owns
        )
        return pool, f"{where}: synth, one actor per core"
    tuning = {
        "model": settings.model,
        "device": settings.device or None,
        "dtype": settings.dtype or None,
        "guidance_scale": settings.guidance_scale,
        "top_k": settings.top_k,
        "temperature": settings.temperature,
    }
    spec = WorkerSpec(MUSICGEN, tuning, num_cpus=1.0, num_gpus=1.0)
    pool = RayPool(
        spec, name="musicgen", model=settings.model, max_batch=MUSICGEN_BATCH, owns_ray=owns
    )
    reason = f"{where}: musicgen, one actor per GPU ({gpus:.0f} in the cluster now)"
    if not gpus:
        reason += "; none yet: stations replay until a GPU node joins"
    return pool, reason
