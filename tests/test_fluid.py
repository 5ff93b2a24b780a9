"""The synth through FluidSynth: real instruments, deterministic; sine voices without them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from radio.audio import PLAYOUT_RATE
from radio.generators import GeneratedAudio, GenerationRequest
from radio.generators.synth import SynthGenerator
from radio.generators.synth.drums import LEVELS as DRUM_LEVELS
from radio.generators.synth.fluid import find
from radio.generators.synth.palettes import FALLBACK, PALETTES
from radio.generators.synth.programs import (
    DRUM_KEYS,
    GENRE_PROGRAMS,
    KITS,
    PITCHED_DRUMS,
    PROGRAMS,
)
from radio.generators.synth.voices import VOICES
from radio.settings import Settings

Audio = npt.NDArray[np.float32]
INSTALLED = find(Settings.soundfont)[0].soundfont is not None
needs_soundfont = pytest.mark.skipif(
    not INSTALLED,
    reason=f"no libfluidsynth or no SoundFont at {Settings.soundfont} (make system-deps)",
)


def request(genre: str, seed: int = 7, seconds: float = 4.0, **params: str) -> GenerationRequest:
    return GenerationRequest("test", genre, genre.lower(), seed, seconds, params)


@pytest.fixture(scope="module")
def sampled() -> SynthGenerator:
    return SynthGenerator()


@pytest.fixture(scope="module")
def sine() -> SynthGenerator:
    return SynthGenerator(None)


def one(generator: SynthGenerator, req: GenerationRequest) -> GeneratedAudio:
    return generator.generate([req])[0]


def band_levels(samples: Audio) -> npt.NDArray[np.float64]:
    """Energy in octave bands from 63 Hz to 16 kHz, in dB relative to the whole track."""
    power = np.abs(np.fft.rfft(samples.mean(axis=1).astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / PLAYOUT_RATE)
    edges = 62.5 * 2.0 ** np.arange(0, 9)
    bands = [power[(freqs >= low) & (freqs < 2 * low)].sum() for low in edges]
    return 10 * np.log10(np.array(bands) / power.sum() + 1e-12)


def test_every_palette_instrument_has_a_general_midi_program() -> None:
    voices = {
        voice
        for palette in (*PALETTES.values(), FALLBACK)
        for ensemble in palette.ensembles
        for voice in (*ensemble.leads, ensemble.chords, ensemble.bass, ensemble.extra)
        if voice
    }
    assert voices <= set(PROGRAMS) and set(PROGRAMS) <= {*VOICES, "palm_mute"}
    assert set(DRUM_LEVELS) <= {*DRUM_KEYS, *PITCHED_DRUMS}
    drummed = {name for name, p in PALETTES.items() if p.grooves or p.accent}
    assert drummed <= set(KITS) <= set(PALETTES)
    assert set(GENRE_PROGRAMS) <= set(PALETTES)
    for overrides in GENRE_PROGRAMS.values():
        assert set(overrides) <= set(PROGRAMS)
        assert all(0 <= program < 128 for program in overrides.values())


@needs_soundfont
@pytest.mark.parametrize("genre", ["Jazz", "Metal", "Classical"])
def test_renders_real_stereo_instruments_unlike_the_sines(
    genre: str, sampled: SynthGenerator, sine: SynthGenerator
) -> None:
    req = request(genre, tempo="120", key="D minor")
    played, fallback = one(sampled, req), one(sine, req)
    samples = played.samples
    assert played.parameters["instruments"] == Settings.soundfont.name
    assert fallback.parameters["instruments"] == "sine"
    assert samples.shape == (round(req.seconds * PLAYOUT_RATE), 2)
    assert samples.dtype == np.float32 and np.isfinite(samples).all()
    assert 0.5 < np.abs(samples).max() < 1.0
    assert 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > -30
    # Stereo, not mono twice: instruments sit at their pans, the reverb is wide.
    assert np.abs(samples[:, 0] - samples[:, 1]).mean() > 0.1 * np.abs(samples).mean()
    # Same score, other instruments: the spectrum's shape moves by several dB somewhere.
    assert np.abs(band_levels(samples) - band_levels(fallback.samples)).max() > 3.0
    # Same composition: the parameters (key, tempo, form, ensemble) are the sine track's.
    assert {**played.parameters, "instruments": "sine"} == fallback.parameters


@needs_soundfont
def test_same_seed_same_bytes_even_with_renders_running_side_by_side(
    sampled: SynthGenerator,
) -> None:
    reqs = [request("Funk & Soul", seed=42, seconds=3.0), request("Latin", seed=5, seconds=3.0)]
    alone = [one(sampled, req).samples.tobytes() for req in reqs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda r: one(SynthGenerator(), r).samples.tobytes(), reqs * 2))
    assert together == alone * 2
    other = one(sampled, request("Funk & Soul", seed=43, seconds=3.0)).samples.tobytes()
    assert other != alone[0]


def test_a_missing_soundfont_falls_back_to_the_sines_and_says_so_once(
    tmp_path: Path, sine: SynthGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "missing.sf2"
    with caplog.at_level(logging.WARNING):
        generators = [SynthGenerator(missing), SynthGenerator(missing)]
    said = [r.getMessage() for r in caplog.records if str(missing) in r.getMessage()]
    assert len(said) == 1 and "sine fallback" in said[0]
    assert all(g.instruments is None for g in generators)
    req = request("Reggae", seconds=2.0)
    heard = one(generators[0], req)
    assert heard.parameters["instruments"] == "sine"
    assert heard.samples.tobytes() == one(sine, req).samples.tobytes()


@needs_soundfont
def test_a_file_that_is_no_soundfont_falls_back_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x04\x00\x00\x00junk")
    with caplog.at_level(logging.WARNING):
        generator = SynthGenerator(broken)
    assert generator.instruments is None
    assert any("cannot read" in r.getMessage() for r in caplog.records)
    assert one(generator, request("Folk", seconds=1.0)).parameters["instruments"] == "sine"


RESIDENT_PROBE = """
from radio.generators.base import GenerationRequest
from radio.generators.synth import SynthGenerator

def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

before = resident_mb()
synth = SynthGenerator()
assert synth.instruments is not None
for seed, genre in enumerate(("Jazz", "Metal", "Classical")):
    synth.generate([GenerationRequest("x", genre, genre, seed, 20.0)])
print(resident_mb() - before)
"""


@needs_soundfont
def test_the_server_holds_the_samples_it_plays_not_the_whole_soundfont() -> None:
    # FluidR3_GM is 148 MB; loading every sample cost the server about 165 MB resident.
    out = subprocess.run(
        [sys.executable, "-c", RESIDENT_PROBE], capture_output=True, text=True, check=True
    )
    assert float(out.stdout) < 100, out.stdout


@needs_soundfont
def test_finding_fluidsynth_prints_nothing_even_under_ci() -> None:
    # pyfluidsynth prints where it found the library when CI is set; the CLI's
    # stdout (URLs, JSON) must not carry it, and CI must be set again afterwards.
    probe = (
        "import os\n"
        "from radio.generators.synth.fluid import find\n"
        "from radio.settings import Settings\n"
        "assert find(Settings.soundfont)[0].soundfont is not None\n"
        "assert os.environ['CI'] == 'true'\n"
    )
    env = {**os.environ, "CI": "true"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == ""
