"""Generators: batches of GenerationRequest in, GeneratedAudio out.

The protocol and its values live in `base`, the `auto` choice in `select`; the
two implementations are the `synth` and `musicgen` subpackages. Nothing here
imports `musicgen`, so the core install runs without torch.
"""

from radio.generators.base import GeneratedAudio, GenerationRequest, Generator, request_for
from radio.generators.select import KINDS, choose_generator, decide, probe

__all__ = [
    "KINDS",
    "GeneratedAudio",
    "GenerationRequest",
    "Generator",
    "choose_generator",
    "decide",
    "probe",
    "request_for",
]
