"""A voice name, a MIDI note and a length in, one mono float32 note out: the synth's instruments.

Instruments are data (`Voice`) over three cheap engines: band-limited wavetables
(morphing from a bright to a dull spectrum, which is most of what makes a pluck or a
piano sound struck), two-operator FM (electric piano, FM bass) and inharmonic
partials (bells, vibraphone, kalimba). Wavetables are built per note with only the
harmonics below Nyquist, so high notes do not alias into noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt

from radio.audio import PLAYOUT_RATE

Mono = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]
RATE = PLAYOUT_RATE
TABLE_BITS = 12
TABLE_SIZE = 1 << TABLE_BITS
MAX_TAIL = 4.0  # seconds a note may ring after note-off (five release time constants)
END_FADE = 256  # samples faded at a note's very end


def _formants(*peaks: tuple[float, float, float]) -> Callable[[Floats, float], Floats]:
    """A spectrum shaped by resonances (centre Hz, width Hz, gain): voices, horns, reeds."""

    def spectrum(k: Floats, f0: float) -> Floats:
        hz = k * f0
        shape = np.full_like(hz, 0.08)
        for centre, width, gain in peaks:
            shape += gain * np.exp(-(((hz - centre) / width) ** 2))
        return shape / k**0.7

    return spectrum


# Harmonic amplitudes by harmonic number k (1, 2, 3...) and fundamental f0.
SPECTRA: dict[str, Callable[[Floats, float], Floats]] = {
    "sine": lambda k, f0: (k == 1).astype(np.float64),
    "saw": lambda k, f0: 1.0 / k,
    "square": lambda k, f0: (k % 2 == 1) / k,
    "triangle": lambda k, f0: (k % 2 == 1) / k**2,
    "warm": lambda k, f0: 1.0 / k**1.6,
    "sub": lambda k, f0: np.where(k == 1, 1.0, np.where(k == 2, 0.25, 0.0)),
    "pluck": lambda k, f0: np.abs(np.sin(np.pi * k * 0.17)) / k**0.9,
    "pluck_dull": lambda k, f0: np.abs(np.sin(np.pi * k * 0.17)) / k**0.9 * np.exp(-(k - 1) / 2.5),
    "piano": lambda k, f0: np.abs(np.sin(np.pi * k / 7.3)) / k**1.1 * np.exp(-k * f0 / 7000),
    "piano_dull": lambda k, f0: np.abs(np.sin(np.pi * k / 7.3)) / k**1.1 * np.exp(-k * f0 / 900),
    "organ": lambda k, f0: np.select(
        [k == 1, k == 2, k == 3, k == 4, k == 6, k == 8], [1.0, 0.9, 0.6, 0.45, 0.3, 0.25], 0.0
    ),
    "reed": lambda k, f0: np.abs(np.sin(np.pi * k * 0.3)) / k * np.exp(-k * f0 / 5000),
    "clav": lambda k, f0: np.abs(np.sin(np.pi * k * 0.08)) / k**0.8,
    "brass": lambda k, f0: 1.0 / k / (1.0 + (k * f0 / 1800.0) ** 2),
    "brass_dull": lambda k, f0: 1.0 / k / (1.0 + (k * f0 / 600.0) ** 2),
    "string": lambda k, f0: 1.0 / k**1.1 * (1.0 + 0.8 * np.exp(-(((k * f0 - 2800) / 900) ** 2))),
    "bass": lambda k, f0: 1.0 / k**1.8,
    "acid": lambda k, f0: 1.0 / k * (1.0 + 5.0 * np.exp(-(((k * f0 - 1400) / 350) ** 2))),
    "acid_dull": lambda k, f0: 1.0 / k / (1.0 + (k * f0 / 350.0) ** 4),
    "flute": lambda k, f0: np.exp(-(k - 1) * 1.3),
    "clarinet": lambda k, f0: np.where(k % 2 == 1, 1.0 / k**1.2, 0.05 / k),
    "voice": _formants((750, 160, 1.0), (1150, 180, 0.5), (2900, 300, 0.35)),
    "sax": _formants((500, 250, 1.0), (1500, 400, 0.6), (2800, 500, 0.2)),
    "muted": _formants((1500, 350, 1.0), (3200, 500, 0.4)),
}


@dataclass(frozen=True)
class Voice:
    spectrum: str = "saw"
    dull: str | None = None  # spectrum the tone relaxes to, `morph` seconds after the attack
    morph: float = 0.3
    attack: float = 0.005
    decay: float = 1.0  # time constant of the fall from the attack peak to `sustain`
    sustain: float = 0.0
    release: float = 0.08
    keytrack: bool = False  # higher notes die faster, as on real strings
    vibrato_cents: float = 0.0
    vibrato_rate: float = 5.0
    unison: int = 1
    detune_cents: float = 0.0
    stack: tuple[int, ...] = (0,)  # semitone offsets sounded together: power chords
    drive: float = 0.0  # tanh overdrive gain: distorted guitars
    cabinet_hz: float = 0.0  # low-pass after the drive, a speaker cabinet's roll-off
    breath: float = 0.0  # noise mixed in with the envelope: winds, bows
    fm_ratio: float = 0.0  # > 0 switches to two-operator FM
    fm_index: float = 0.0
    fm_decay: float = 0.5
    partials: tuple[tuple[float, float, float], ...] = ()  # (ratio, amplitude, decay s): bells


# Positional fields: spectrum, dull, morph, attack, decay, sustain, release.
# fmt: off
VOICES: dict[str, Voice] = {
    # bass
    "upright": Voice("warm", "sine", 0.15, 0.004, 0.9, 0.15, 0.06, keytrack=True),
    "finger_bass": Voice("bass", "sine", 0.3, 0.004, 1.2, 0.35, 0.06),
    "synth_bass": Voice("saw", "warm", 0.12, 0.003, 0.35, 0.55, 0.05, unison=2, detune_cents=6),
    "sub_bass": Voice("sub", None, 0.3, 0.004, 1.4, 0.2, 0.08),
    "acid": Voice("acid", "acid_dull", 0.12, 0.003, 0.4, 0.5, 0.04, drive=1.5),
    "dist_bass": Voice("saw", "warm", 0.2, 0.003, 0.8, 0.6, 0.05, drive=3.0, cabinet_hz=1800),
    "slap": Voice("clav", "bass", 0.06, 0.002, 0.6, 0.25, 0.05),
    "fm_bass": Voice("sine", None, 0.3, 0.003, 0.4, 0.5, 0.06, fm_ratio=1.0, fm_index=2.5,
                     fm_decay=0.12),
    # keys and plucked strings
    "piano": Voice("piano", "piano_dull", 0.35, 0.003, 2.2, 0.0, 0.18, keytrack=True),
    "epiano": Voice("sine", None, 0.3, 0.004, 1.6, 0.12, 0.25, keytrack=True, fm_ratio=1.0,
                    fm_index=1.6, fm_decay=0.5),
    "clav": Voice("clav", "pluck_dull", 0.07, 0.002, 0.3, 0.0, 0.04),
    "organ": Voice("organ", None, 0.3, 0.012, 1.0, 1.0, 0.07, vibrato_cents=7, vibrato_rate=6.5),
    "guitar": Voice("pluck", "pluck_dull", 0.15, 0.002, 1.3, 0.0, 0.08, keytrack=True),
    "nylon": Voice("pluck", "pluck_dull", 0.25, 0.003, 1.1, 0.0, 0.1, keytrack=True),
    "jazz_guitar": Voice("pluck_dull", "sine", 0.3, 0.003, 1.0, 0.1, 0.1, keytrack=True),
    "skank": Voice("pluck", "pluck_dull", 0.05, 0.002, 0.12, 0.0, 0.03),
    "harp": Voice("triangle", "sine", 0.6, 0.002, 2.5, 0.0, 0.4, keytrack=True),
    "kora": Voice("pluck", "triangle", 0.2, 0.002, 1.6, 0.0, 0.3, keytrack=True),
    "sitar": Voice("clav", "pluck", 0.4, 0.002, 1.8, 0.0, 0.3, vibrato_cents=10, keytrack=True),
    "oud": Voice("pluck", "warm", 0.12, 0.002, 0.9, 0.0, 0.1, keytrack=True),
    "mandolin": Voice("pluck", "pluck_dull", 0.1, 0.002, 0.5, 0.0, 0.06, keytrack=True,
                      unison=2, detune_cents=5),
    "banjo": Voice("clav", "pluck_dull", 0.08, 0.002, 0.45, 0.0, 0.05),
    "drive_guitar": Voice("saw", "warm", 0.4, 0.003, 2.0, 0.5, 0.08, stack=(0, 7, 12),
                          drive=3.0, cabinet_hz=3500),
    "metal_guitar": Voice("saw", None, 0.3, 0.002, 3.0, 0.7, 0.06, stack=(0, 7, 12), drive=8.0,
                          cabinet_hz=3000, unison=2, detune_cents=8),
    "palm_mute": Voice("saw", "warm", 0.03, 0.002, 0.1, 0.0, 0.03, stack=(0, 7), drive=6.0,
                       cabinet_hz=1600),
    # sustained: strings, pads, winds, voices
    "strings": Voice("string", None, 0.3, 0.3, 1.0, 1.0, 0.5, vibrato_cents=10, vibrato_rate=5.2,
                     unison=3, detune_cents=9, breath=0.02),
    "pad": Voice("warm", None, 0.3, 0.8, 1.0, 1.0, 1.2, unison=3, detune_cents=12),
    "glass_pad": Voice("triangle", None, 0.3, 2.2, 1.0, 1.0, 2.5, unison=3, detune_cents=7),
    "juno_pad": Voice("saw", "warm", 0.8, 0.25, 1.5, 0.7, 0.9, unison=3, detune_cents=14),
    "supersaw": Voice("saw", None, 0.3, 0.01, 0.25, 0.3, 0.1, unison=3, detune_cents=22),
    "harmonium": Voice("reed", None, 0.3, 0.08, 1.0, 1.0, 0.15, unison=2, detune_cents=4),
    "accordion": Voice("reed", None, 0.3, 0.03, 1.0, 1.0, 0.1, unison=2, detune_cents=12),
    "sax": Voice("sax", None, 0.3, 0.04, 1.0, 0.9, 0.1, vibrato_cents=18, breath=0.05),
    "trumpet": Voice("brass", "brass_dull", 0.5, 0.03, 1.0, 0.8, 0.08, vibrato_cents=10),
    "muted_trumpet": Voice("muted", None, 0.3, 0.03, 1.0, 0.85, 0.08, vibrato_cents=8,
                           breath=0.04),
    "horns": Voice("brass", "brass_dull", 0.15, 0.02, 0.3, 0.5, 0.1, unison=2, detune_cents=8),
    "flute": Voice("flute", None, 0.3, 0.06, 1.0, 0.9, 0.12, vibrato_cents=14, breath=0.12),
    "clarinet": Voice("clarinet", None, 0.3, 0.04, 1.0, 0.9, 0.1, vibrato_cents=6, breath=0.03),
    "violin": Voice("string", None, 0.3, 0.08, 1.0, 0.95, 0.2, vibrato_cents=22, breath=0.03),
    "cello": Voice("string", "warm", 0.5, 0.1, 1.0, 0.9, 0.25, vibrato_cents=18, breath=0.02),
    "voice": Voice("voice", None, 0.3, 0.12, 1.0, 1.0, 0.25, vibrato_cents=45, vibrato_rate=5.5),
    "melodica": Voice("reed", None, 0.3, 0.02, 1.0, 0.85, 0.08, breath=0.07),
    "harmonica": Voice("reed", None, 0.3, 0.03, 1.0, 0.85, 0.08, vibrato_cents=20, breath=0.06),
    "blues_guitar": Voice("pluck", "saw", 0.2, 0.003, 2.0, 0.6, 0.1, vibrato_cents=22,
                          drive=2.5, cabinet_hz=4200),
    "guitar_lead": Voice("saw", None, 0.3, 0.003, 2.5, 0.7, 0.1, vibrato_cents=25, drive=6.0,
                         cabinet_hz=3800),
    "saw_lead": Voice("saw", "warm", 1.0, 0.01, 1.0, 0.8, 0.12, vibrato_cents=12, unison=2,
                      detune_cents=7),
    "square_lead": Voice("square", None, 0.3, 0.01, 1.0, 0.8, 0.1, vibrato_cents=10),
    "soft_lead": Voice("triangle", None, 0.3, 0.05, 1.0, 0.85, 0.3, vibrato_cents=8),
    "pluck_synth": Voice("saw", "warm", 0.06, 0.002, 0.28, 0.0, 0.06, unison=2, detune_cents=9),
    # inharmonic partials: (ratio, amplitude, decay seconds)
    "vibes": Voice(partials=((1.0, 1.0, 2.2), (3.98, 0.3, 0.5), (9.0, 0.08, 0.2)), release=0.3),
    "bells": Voice(partials=((1.0, 1.0, 3.0), (2.76, 0.5, 1.4), (5.4, 0.25, 0.7),
                             (8.93, 0.12, 0.35)), release=0.8),
    "kalimba": Voice(partials=((1.0, 1.0, 0.9), (5.4, 0.2, 0.12)), release=0.1),
    "celesta": Voice(partials=((1.0, 1.0, 1.2), (4.0, 0.35, 0.3), (10.0, 0.1, 0.1)),
                     release=0.2),
}
# fmt: on


class NoteCache:
    """Notes rendered once per track and reused: songs repeat their pitches and lengths a lot."""

    def __init__(self) -> None:
        self._notes: dict[tuple[str, int, int], Mono] = {}

    def note(self, voice: str, midi: int, held: int) -> Mono:
        key = (voice, midi, held)
        note = self._notes.get(key)
        if note is None:
            note = render_note(VOICES[voice], midi, held) * loudness_trim(voice)
            self._notes[key] = note
        return note


@lru_cache(maxsize=128)
def loudness_trim(voice: str) -> np.float32:
    """The gain that brings a voice's middle C to a common level, so the mix sets balance.

    Measured as RMS above 150 Hz over the attack and half a second (a pad with a slow
    swell is judged once it has swelled), roughly how the ear weighs a note.
    """
    spec = VOICES[voice]
    window = int((0.5 + spec.attack) * RATE)
    note = filtered(render_note(spec, 60, window)[:window], "highpass", 150.0)
    rms = float(np.sqrt(np.mean(note**2)))
    return np.float32(0.3 / rms if rms > 0 else 1.0)


def render_note(voice: Voice, midi: int, held: int) -> Mono:
    """One note at unit velocity: `held` samples until note-off, then the release tail."""
    release = min(voice.release, MAX_TAIL / 5.0)
    n = held + int(release * 5.0 * RATE)
    t = np.arange(n, dtype=np.float32) / np.float32(RATE)
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    if voice.partials:
        tone = _partials(voice, f0, t)
    elif voice.fm_ratio > 0:
        tone = _fm(voice, f0, t)
    else:
        tone = sum((_wavetable(voice, midi + step, t) for step in voice.stack), np.zeros_like(t))
        tone /= np.float32(len(voice.stack) ** 0.5)
    if voice.breath:
        tone += np.float32(voice.breath) * _noise(n, midi)
    if voice.drive:
        tone = np.tanh(np.float32(voice.drive) * tone) / np.float32(np.tanh(voice.drive))
    if voice.cabinet_hz:
        tone = filtered(tone, "lowpass", voice.cabinet_hz)
    decay = voice.decay * (2.0 ** (-(midi - 60) / 24.0) if voice.keytrack else 1.0)
    out: Mono = tone * _envelope(voice, decay, release, t, held)
    ending = min(n, END_FADE)
    out[n - ending :] *= np.linspace(1, 0, ending, dtype=np.float32)  # no click where it stops
    return out


def _envelope(voice: Voice, decay: float, release: float, t: Mono, held: int) -> Mono:
    attack = np.float32(max(voice.attack, 1e-3))
    sustain = np.float32(voice.sustain)
    falling = sustain + (1 - sustain) * np.exp(-(t - attack) / np.float32(decay))
    env = np.where(t < attack, t / attack, falling).astype(np.float32)
    if held < len(t):
        level = env[held - 1] if held > 0 else np.float32(0)
        env[held:] = level * np.exp(-(t[held:] - t[held]) / np.float32(release))
    return env


def _accumulator(f0: float, n: int, bend: Mono | None) -> npt.NDArray[np.uint32]:
    """A 32-bit phase accumulator: it wraps by itself, so no float modulo over the note."""
    step = f0 / RATE * 2.0**32
    if bend is None:
        increment = np.uint32(round(step) & 0xFFFFFFFF)
        return np.arange(n, dtype=np.uint32) * increment
    increments = (bend * np.float32(step)).astype(np.uint32)
    return np.cumsum(increments, dtype=np.uint32)


def _cycles(f0: float, n: int) -> Mono:
    """Phase in cycles, [0, 1), for the sine engines."""
    phase: Mono = _accumulator(f0, n, None).astype(np.float32) * np.float32(2.0**-32)
    return phase


def _wavetable(voice: Voice, midi: int, t: Mono) -> Mono:
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    bright = _table(voice.spectrum, midi)
    dull = _table(voice.dull, midi) if voice.dull else None
    mix = np.exp(-t / np.float32(voice.morph)) if dull is not None else None
    bend = None
    if voice.vibrato_cents:  # fades in over 0.4 s, so short notes stay straight
        depth = np.minimum(t / np.float32(0.4), 1) * np.float32(voice.vibrato_cents / 1200.0)
        bend = np.exp2(depth * np.sin(np.float32(2 * np.pi * voice.vibrato_rate) * t))
    out = np.zeros_like(t)
    for u in range(voice.unison):
        spread = (u - (voice.unison - 1) / 2) * voice.detune_cents
        phase = _accumulator(f0 * 2.0 ** (spread / 1200.0), len(t), bend)
        phase += np.uint32(u * 2**32 // 3)  # unison voices start apart, not in phase
        index = phase >> np.uint32(32 - TABLE_BITS)
        if dull is None or mix is None:
            out += bright[index]
        else:
            low = dull[index]
            out += low + mix * (bright[index] - low)
    out /= np.float32(voice.unison**0.5)
    return out


def _fm(voice: Voice, f0: float, t: Mono) -> Mono:
    index = np.float32(voice.fm_index) * (np.exp(-t / np.float32(voice.fm_decay)) + 0.05)
    two_pi = np.float32(2 * np.pi)
    mod = np.sin(two_pi * _cycles(f0 * voice.fm_ratio, len(t)))
    tone: Mono = np.sin(two_pi * _cycles(f0, len(t)) + index * mod)
    return tone


def _partials(voice: Voice, f0: float, t: Mono) -> Mono:
    out = np.zeros_like(t)
    for ratio, amplitude, decay in voice.partials:
        if f0 * ratio < 0.45 * RATE:
            ring = np.sin(np.float32(2 * np.pi) * _cycles(f0 * ratio, len(t)))
            out += np.float32(amplitude) * np.exp(-t / np.float32(decay)) * ring
    return out


@lru_cache(maxsize=1024)
def _table(spectrum: str, midi: int) -> Mono:
    """One period with only the harmonics below 19 kHz, peak-normalised."""
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    count = max(1, min(TABLE_SIZE // 2 - 1, int(19000.0 / f0)))
    k = np.arange(1, count + 1, dtype=np.float64)
    bins = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    bins[1 : count + 1] = -1j * SPECTRA[spectrum](k, f0)
    wave = np.fft.irfft(bins, n=TABLE_SIZE)
    peak = float(np.max(np.abs(wave))) or 1.0
    return (wave / peak).astype(np.float32)


@lru_cache(maxsize=1)
def _noise_bank() -> Mono:
    """A fixed second of high-passed noise, so breath stays deterministic without an rng."""
    noise = np.random.Generator(np.random.PCG64(0)).standard_normal(RATE)
    return filtered(noise.astype(np.float32), "highpass", 1500.0)


def filtered(signal: Mono, kind: str, hz: float | tuple[float, float], order: int = 2) -> Mono:
    """A Butterworth low/high/band-pass over a short signal (a note, a drum, an impulse)."""
    out: Mono = np.asarray(sosfilt(_sos(kind, hz, order), signal), dtype=np.float32)
    return out


@lru_cache(maxsize=64)
def _sos(kind: str, hz: float | tuple[float, float], order: int) -> npt.NDArray[np.float64]:
    sos: npt.NDArray[np.float64] = butter(order, hz, kind, fs=RATE, output="sos")
    return sos


def _noise(n: int, midi: int) -> Mono:
    noise: Mono = np.resize(np.roll(_noise_bank(), midi * 997), n)
    return noise
