"""GeneratedAudio in, FLAC bytes out, and back: what travels between a worker and the head.

Float arrays are four bytes a sample; 24-bit FLAC is lossless at 24 bits and
smaller (about 0.6 of the floats for the synth's dense mixes, less for quiet
music), so a GPU node a network away sends minutes of audio cheaply (issue #12).
The head node decodes it and prepares it as if made locally.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import soundfile

from radio.generators.base import GeneratedAudio, GenerationRequest

SUBTYPE = "PCM_24"
# One step of 24-bit audio: the most a sample may move on the way.
STEP = 2.0**-23


@dataclass(frozen=True)
class PackedAudio:
    request: GenerationRequest
    flac: bytes
    sample_rate: int
    parameters: Mapping[str, object] = field(default_factory=dict)


def pack(audio: GeneratedAudio) -> PackedAudio:
    out = io.BytesIO()
    # FLAC holds [-1, 1) only; a generator's float may touch 1.0 exactly.
    samples = np.clip(audio.samples, -1.0, 1.0 - STEP)
    soundfile.write(out, samples, audio.sample_rate, format="FLAC", subtype=SUBTYPE)
    return PackedAudio(audio.request, out.getvalue(), audio.sample_rate, dict(audio.parameters))


def unpack(packed: PackedAudio) -> GeneratedAudio:
    samples, rate = soundfile.read(io.BytesIO(packed.flac), dtype="float32", always_2d=True)
    return GeneratedAudio(packed.request, samples, int(rate), packed.parameters)
