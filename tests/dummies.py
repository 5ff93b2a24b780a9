"""Dummy generators with the real Generator interface (Mopidy's habit): tests need
audio they can recognise, such as a pure tone whose pitch names the track."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from radio.errors import GeneratorError
from radio.generators import GeneratedAudio, GenerationRequest
from radio.generators.pool import WorkerView

RATE = 32000  # not the playout rate, so preparation's resampling is exercised


NEIGHBOUR_HZ = 100.0  # a station's consecutive tracks differ by at least this much


def tone_hz(seed: int) -> float:
    """Each seed gets one of 30 pitches, 50 Hz apart so tests can tell them apart."""
    return 200.0 + 50.0 * (seed % 30)


class ToneGenerator:
    name = "tone"
    model = "tone-v1"

    def __init__(self, max_batch: int = 4, fail: bool = False, seconds: float = 0.0) -> None:
        self.max_batch = max_batch
        self.fail = fail
        self.seconds = seconds  # how long a batch takes, like a real model (on its thread)
        self.calls: list[list[GenerationRequest]] = []
        self.last_hz: dict[str, float] = {}  # station -> pitch of its latest track

    def pitch(self, request: GenerationRequest) -> float:
        """The seed's pitch, or the next in the cycle while within NEIGHBOUR_HZ of the
        station's previous track: seeds are random, but a test listening for the
        change between two tracks must always hear one."""
        previous = self.last_hz.get(request.station)
        step = 0
        while previous is not None and abs(tone_hz(request.seed + step) - previous) < NEIGHBOUR_HZ:
            step += 1
        self.last_hz[request.station] = tone_hz(request.seed + step)
        return self.last_hz[request.station]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        self.calls.append(list(requests))
        time.sleep(self.seconds)
        if self.fail:
            raise GeneratorError("the dummy model is broken on purpose")
        out = []
        for r in requests:
            hz = self.pitch(r)
            t = np.arange(int(r.seconds * RATE), dtype=np.float32) / RATE
            # The phase comes from the whole seed, so two seeds that share a pitch still
            # make different audio (the catalog refuses exact repeats).
            phase = (r.seed % 9973) / 9973 * 2 * np.pi
            wave = 0.3 * np.sin(2 * np.pi * hz * t + phase, dtype=np.float32)
            out.append(GeneratedAudio(r, wave[:, None].astype(np.float32), RATE, {"hz": hz}))
        return out

    def close(self) -> None:
        pass


class HungGenerator(ToneGenerator):
    """A model that never returns (a wedged GPU, say) until `release` is set."""

    name = "hung"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Event()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        self.started.set()
        self.release.wait()
        return super().generate(requests)


class GatedToneGenerator(ToneGenerator):
    """A ToneGenerator for a Ray actor (another process): while the `gate` file is
    missing, each batch leaves a `held-<seed>` file per request beside it and waits
    for the gate, so a test can hold a batch mid-way and know which one it holds."""

    def __init__(self, gate: str, max_batch: int = 4) -> None:
        super().__init__(max_batch)
        self.gate = Path(gate)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        if not self.gate.exists():
            for request in requests:
                (self.gate.parent / f"held-{request.seed}").touch()
        while not self.gate.exists():
            time.sleep(0.02)
        return super().generate(requests)


class TonePool(ToneGenerator):
    """A pool of `size` tone workers with the real Pooled interface, in this process."""

    workers_kind = "dummy"

    def __init__(self, size: int, max_batch: int = 4) -> None:
        super().__init__(max_batch)
        self.size = size
        self.refreshed = 0
        self.begun: list[list[GenerationRequest]] = []  # batches started, done or not
        self.release = threading.Event()  # batches wait for it, so a test sees them in flight
        self.release.set()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        self.begun.append(list(requests))
        self.release.wait()
        return super().generate(requests)

    def capacity(self) -> int:
        return self.size

    def refresh(self) -> None:
        self.refreshed += 1

    def workers(self) -> list[WorkerView]:
        return [
            WorkerView(f"tone-{n}", "here", "cpu", self.model, "idle") for n in range(self.size)
        ]


class DummyConnection:
    """A listener's connection with the real Connection interface: keeps what is written,
    and its unsent bytes are whatever a test says (a reader that stopped reading)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.unsent = 0
        self.closing = False
        self.aborted = False

    @property
    def received(self) -> bytes:
        return b"".join(self.writes)

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return self.closing or self.aborted

    def abort(self) -> None:
        self.aborted = True
