"""Generated audio in, a Track (cache file and catalog row) out: the one preparation path.

The stages, in order: playout format (44.1 kHz stereo) -> trim silent edges ->
edges lifted to the body's level, a click guard (no fades: the crossfade is the
only fade at a join) -> loudness to -14 LUFS with true peaks <= -4 dBTP (-1 as
heard after MP3 coding) -> FLAC written under
a temporary name then renamed (`cache_audio`, the part a worker process may run) ->
catalog row (unique audio hash) -> Track.
The scheduler and `radio generate` both call `prepare_or_skip`, so both follow
one error policy: audio that cannot be used is logged and skipped, and a bug in
a stage is logged with its traceback; neither stops the tracks after it.

The cache is 16-bit FLAC: playout re-encodes every track to MP3, so a lossy
cache would stack two generations of artefacts; FLAC keeps the source exact at
roughly half the size of WAV.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile

from radio.audio import PLAYOUT_RATE, Samples
from radio.audio.edges import guard_clicks, level_edges, trim_silence
from radio.audio.loudness import normalize
from radio.audio.resample import to_playout
from radio.catalog import Catalog, CatalogWriter
from radio.errors import AudioError, DuplicateTrack, RadioError
from radio.generators import GeneratedAudio
from radio.tracks import NewTrack, Track, unique_title

log = logging.getLogger(__name__)

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
    samples = guard_clicks(level_edges(samples, PLAYOUT_RATE), PLAYOUT_RATE)
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
    try:
        soundfile.write(temporary, prepared.pcm, PLAYOUT_RATE, format="FLAC", subtype="PCM_16")
        os.replace(temporary, final)
    except (OSError, RuntimeError) as exc:  # soundfile's errors are RuntimeErrors
        temporary.unlink(missing_ok=True)  # a full disk leaves no partial file behind
        raise AudioError(f"cannot write {final}: {exc}") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return relative


@dataclass(frozen=True)
class CachedAudio:
    """Prepared audio once it is in the cache: what the catalog row needs of it."""

    path: str  # cache-relative
    loudness: float
    audio_hash: str
    duration: float


def cache_audio(generated: GeneratedAudio, cache_dir: Path) -> CachedAudio:
    """The signal stages and the FLAC write: everything but the catalog, so a worker
    process can run it (`radio.offload`) and hand back only this small record."""
    prepared = prepare_audio(generated)
    path = write_cache(prepared, cache_dir, generated.request.station)
    return CachedAudio(path, prepared.loudness, prepared.audio_hash, prepared.duration)


Stages = Callable[[GeneratedAudio, Path], CachedAudio]


def parameters(generated: GeneratedAudio) -> dict[str, object]:
    """What the catalog keeps of how a track was made: the generator's own account, and
    the prompt's pool values beside it. A pool value never overwrites the generator's
    (#9: classical's and opera's `form` pool hid the synth's section plan); one that
    shares a name is kept as `prompt_<name>`."""
    request = generated.request
    made = dict(generated.parameters)
    pools = {
        (f"prompt_{name}" if name in made else name): value
        for name, value in request.params.items()
    }
    return {**pools, **made, "seconds_requested": request.seconds}


def new_track(
    generated: GeneratedAudio,
    prepared: PreparedAudio | CachedAudio,
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
        parameters=parameters(generated),
        duration=prepared.duration,
        sample_rate=PLAYOUT_RATE,
        loudness=prepared.loudness,
        audio_hash=prepared.audio_hash,
        path=path,
    )


@dataclass(frozen=True)
class Maker:
    """What made a batch, recorded with each track so it can be made again."""

    generator: str
    model: str


def prepare(
    generated: GeneratedAudio,
    title: str,
    maker: Maker,
    cache_dir: Path,
    catalog: CatalogWriter,
    alternatives: Sequence[str] = (),
    stages: Stages = cache_audio,
) -> Track:
    """Every stage for one track, blocking: run it on a worker thread, never the loop.

    `stages` makes the cache file (`cache_audio` here, or the same in a worker process).
    The track takes the first of `title` and `alternatives` its station has not used
    (numbered past them all); choosing and adding happen in one call on the catalog's
    one writer, so no two tracks of a station can take the same title (#9)."""
    cached = stages(generated, cache_dir)
    path = cached.path
    row = new_track(generated, cached, path, title, maker.generator, maker.model)

    def add(c: Catalog) -> tuple[int, NewTrack]:
        titled = replace(row, title=unique_title((title, *alternatives), c.titles(row.station)))
        return c.add_track(titled), titled

    try:
        track_id, row = catalog.run_sync(add)
    except DuplicateTrack:
        raise  # the file is the existing track's own (its name is the audio hash)
    except BaseException:
        (cache_dir / path).unlink(missing_ok=True)  # no audio without a catalog row
        raise
    return Track(track_id, row.station, row.title, cache_dir / path, row.duration)


def prepare_or_skip(
    generated: GeneratedAudio,
    title: str,
    maker: Maker,
    cache_dir: Path,
    catalog: CatalogWriter,
    alternatives: Sequence[str] = (),
    stages: Stages = cache_audio,
) -> Track | None:
    """`prepare` under the one error policy: None (and a log line) for a track not used."""
    request = generated.request
    try:
        track = prepare(generated, title, maker, cache_dir, catalog, alternatives, stages)
    except RadioError as exc:
        log.warning("%s: track (seed %d) not used: %s", request.station, request.seed, exc)
        return None
    except Exception:  # a bug in a stage must not stop the other tracks
        log.exception("%s: preparing track (seed %d) failed", request.station, request.seed)
        return None
    log.info("%s: prepared %r (%.1f s)", track.station, track.title, track.duration)
    return track
