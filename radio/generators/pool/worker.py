"""A worker spec in, one generator on a Ray node out: the class every actor runs.

Plain Python (Ray wraps it in `ray_pool`), so it imports nothing heavy at module
level. Building the generator never raises out of the constructor: a model that
does not load is kept as a reason, which `ready` hands to the head node, so the
pool reports it once and never sends that worker a batch.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radio.errors import GeneratorUnavailable
from radio.generators.base import GenerationRequest, Generator
from radio.generators.pool.wire import PackedAudio, pack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSpec:
    """What one actor builds and the Ray resources it holds."""

    factory: str  # "module:callable" returning a Generator
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    num_cpus: float = 1.0
    num_gpus: float = 0.0


SYNTH = "radio.generators.synth:SynthGenerator"
MUSICGEN = "radio.generators.pool.worker:musicgen"


def musicgen(**settings: Any) -> Generator:
    from radio.generators.musicgen import MusicgenGenerator, MusicgenSettings

    return MusicgenGenerator(MusicgenSettings(**settings))


@dataclass(frozen=True)
class Ready:
    node: str
    device: str
    model: str
    error: str | None  # why the generator could not be built; None when it is ready


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.generator: Generator | None = None
        self.error: str | None = None
        try:
            module, _, name = spec.factory.partition(":")
            self.generator = getattr(importlib.import_module(module), name)(**spec.kwargs)
        except GeneratorUnavailable as exc:
            self.error = str(exc)
        except Exception as exc:  # anything a model load can raise; reported, not fatal
            self.error = f"{type(exc).__name__}: {exc}"
        self.model = getattr(self.generator, "model", str(spec.kwargs.get("model", spec.factory)))
        # Kept by the worker itself, so `radio doctor` can ask it from another process.
        self.batches = 0
        self.failures = 0

    def ready(self) -> Ready:
        return Ready(_node(), self.device(), self.model, self.error)

    def device(self) -> str:
        parameters = getattr(self.generator, "parameters", {})
        device = str(parameters.get("device", "cpu")) if isinstance(parameters, Mapping) else "cpu"
        if not device.startswith("cuda"):
            return device
        # Ray shows each actor only its own GPU (as cuda:0): name the card and its index
        # on the node, so the doctor and the console tell one node's GPUs apart.
        try:
            import ray
            import torch

            card = torch.cuda.get_device_name(torch.device(device))
            return f"{device} = GPU {','.join(map(str, ray.get_gpu_ids()))} ({card})"
        except Exception:
            return device

    def generate(self, requests: Sequence[GenerationRequest]) -> list[PackedAudio]:
        if self.generator is None:
            raise GeneratorUnavailable(self.error or "no generator")
        try:
            made = self.generator.generate(requests)
        except Exception:
            self.failures += 1
            raise
        self.batches += 1
        return [pack(audio) for audio in made]

    def cpu_seconds(self) -> float:
        """CPU time this worker's process has used: the benchmark's check on contention."""
        return time.process_time()

    def stats(self) -> tuple[Ready, int, int]:
        """What it runs on and its counts: the doctor's view of a worker."""
        return self.ready(), self.batches, self.failures

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()


def _node() -> str:
    try:
        import ray.util

        return str(ray.util.get_node_ip_address())
    except Exception:  # outside Ray (a test of the class itself)
        return "local"
