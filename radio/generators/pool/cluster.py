"""A Ray address and the settings in, a joined cluster, the pool they ask for, and the doctor's
view of both out.

`connect` joins (or, for `auto` with none running, starts) a cluster; `ray_pool`
builds the RayPool the generator setting asks for; `cluster_report` is what
`radio doctor --workers ray` prints. Like `ray_pool`, imported only for `--workers ray`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import ray
import ray.util

from radio.errors import GeneratorError
from radio.generators.pool.ray_pool import NAMESPACE, RayPool
from radio.generators.pool.worker import MUSICGEN, SYNTH, Ready, WorkerSpec
from radio.settings import Settings

log = logging.getLogger(__name__)

QUIET: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False, "configure_logging": False}
STATS_SECONDS = 10.0
CONNECT_SECONDS = 2.0
SYNTH_BATCH = 4
MUSICGEN_BATCH = 15


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
