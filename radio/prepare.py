"""Generated audio in, a track in the cache, the catalog and the backlog out.

The stages, in order: playout format (44.1 kHz stereo) -> trim silent edges ->
short fades -> loudness to -14 LUFS with peaks <= -1 dBFS -> FLAC written under
a temporary name then renamed -> catalog row (unique audio hash).

The cache is 16-bit FLAC: playout re-encodes every track to MP3, so a lossy
cache would stack two generations of artefacts; FLAC keeps the source exact at
roughly half the size of WAV.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from radio.audio import PLAYOUT_RATE, Samples
from radio.audio.edges import fade_edges, trim_silence
from radio.audio.loudness import normalize
from radio.audio.resample import to_playout
from radio.errors import AudioError
from radio.generators.base import GeneratedAudio
from radio.tracks import NewTrack

MIN_SECONDS = 1.0


@dataclass(frozen=True)
class PreparedAudio:
    pcm: np.ndarray  # int16, (frames, 2): exactly what the cache file holds
    loudness: float
    audio_hash: str

    @property
    def duration(self) -> float:
        return len(self.pcm) / PLAYOUT_RATE


def prepare_audio(generated: GeneratedAudio) -> PreparedAudio:
    """The signal stages: format, edges, loudness. Pure and CPU-bound (run it off the loop)."""
    samples: Samples = to_playout(generated.samples, generated.sample_rate)
    samples = trim_silence(samples)
    if len(samples) < MIN_SECONDS * PLAYOUT_RATE:
        raise AudioError(
            f"only {len(samples) / PLAYOUT_RATE:.2f} s of audio after trimming silence"
        )
    samples = fade_edges(samples, PLAYOUT_RATE)
    samples, loudness = normalize(samples, PLAYOUT_RATE)
    pcm = np.round(samples * 32767.0).astype(np.int16)
    # The hash is of the exact PCM we store: the same audio can never enter twice.
    return PreparedAudio(
        pcm=pcm, loudness=loudness, audio_hash=hashlib.sha256(pcm.tobytes()).hexdigest()
    )


def write_cache(prepared: PreparedAudio, cache_dir: Path, station: str) -> str:
    """Write the FLAC atomically (temporary name, then rename); returns its cache-relative path."""
    relative = f"{station}/{prepared.audio_hash[:20]}.flac"
    final = cache_dir / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp")
    soundfile.write(temporary, prepared.pcm, PLAYOUT_RATE, format="FLAC", subtype="PCM_16")
    os.replace(temporary, final)
    return relative


def prepare_track(
    generated: GeneratedAudio, cache_dir: Path, title: str, generator: str, model: str
) -> NewTrack:
    """All the blocking stages for one track: signal, cache file, and its catalog row."""
    prepared = prepare_audio(generated)
    path = write_cache(prepared, cache_dir, generated.request.station)
    return new_track(generated, prepared, path, title, generator, model)


def new_track(
    generated: GeneratedAudio,
    prepared: PreparedAudio,
    path: str,
    title: str,
    generator: str,
    model: str,
) -> NewTrack:
    request = generated.request
    return NewTrack(
        station=request.station,
        title=title,
        prompt=request.prompt,
        seed=request.seed,
        generator=generator,
        model=model,
        parameters={**generated.parameters, **request.params, "seconds_requested": request.seconds},
        duration=prepared.duration,
        sample_rate=PLAYOUT_RATE,
        loudness=prepared.loudness,
        audio_hash=prepared.audio_hash,
        path=path,
    )
