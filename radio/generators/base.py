"""The Generator protocol: a batch of requests in, audio (with rate and channels) out.

Generators are blocking and run on the scheduler's worker thread, never on the
event loop. A generator that fails raises GeneratorError for the batch; the
scheduler logs it and the station keeps playing from its backlog or replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from radio.audio import Samples
from radio.lineup.prompts import ConcretePrompt
from radio.lineup.stations import Station


@dataclass(frozen=True)
class GenerationRequest:
    station: str
    genre: str
    prompt: str
    seed: int
    seconds: float
    # The pool values the prompt was filled with (mood, tempo, key...): the synth
    # reads tempo and key from here rather than parsing prose.
    params: Mapping[str, str] = field(default_factory=dict)
    # Plan fingerprints the station's tracks already have (GeneratedAudio.parameters
    # "fingerprint"): a generator that plans its music draws again rather than repeat one.
    used_plans: frozenset[str] = frozenset()


def request_for(
    station: Station, prompt: ConcretePrompt, seed: int, seconds: float
) -> GenerationRequest:
    """What a generator is asked for one track of `station`, from the prompt drawn by `seed`."""
    return GenerationRequest(
        station=station.id,
        genre=station.genre,
        prompt=prompt.text,
        seed=seed,
        seconds=seconds,
        params=prompt.params,
    )


@dataclass(frozen=True)
class GeneratedAudio:
    request: GenerationRequest
    samples: Samples  # float32 in [-1, 1], shape (frames, channels)
    sample_rate: int
    # Generator-specific settings worth recording so a track can be regenerated.
    parameters: Mapping[str, object] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def seconds(self) -> float:
        return float(self.samples.shape[0] / self.sample_rate)


@runtime_checkable
class Generator(Protocol):
    name: str  # "synth", "musicgen"
    model: str  # what made the audio: "synth-v1", "facebook/musicgen-small"
    max_batch: int  # how many requests one generate() call should take

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        """Make one GeneratedAudio per request, in order; blocking."""
        ...

    def close(self) -> None:
        """Release the model and its memory."""
        ...
