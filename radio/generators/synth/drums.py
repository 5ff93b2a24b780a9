"""A kit description and an rng in, one-shot drum sounds out: kick, snare, hats, hand drums...

Each sound is synthesised once per track (pitch sweeps, filtered noise, metallic
partials) and then placed at every hit, so a 200 BPM double-kick costs no more
to make than a single kick. A few variants of each (their own noise, a hair of
tuning apart) take turns at random, as a sampler's round robin does: a struck
skin never sounds twice the same, and neither do two bars of the same groove.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from radio.generators.synth.voices import RATE, Mono, filtered

TWO_PI = np.float32(2 * np.pi)
# Round-robin variants of each drum: where a hit lands on the skin moves its pitch a little.
VARIANT_TUNES = (1.0, 0.994, 1.006, 0.997)
# Long, rarely struck sounds cost the most to make and repeat least: fewer takes.
FEWER_TAKES = {"crash": 1, "ride": 2, "openhat": 2}


@dataclass(frozen=True)
class Kit:
    kick_hz: tuple[float, float] = (140.0, 48.0)  # start and end of the pitch sweep
    kick_decay: float = 0.32
    kick_click: float = 0.25
    snare_hz: float = 190.0
    snare_decay: float = 0.16
    snare_gate: float = 0.0  # > 0: an 80s gated tail cut off after this many seconds
    hat_decay: float = 0.045
    drive: float = 0.0  # saturate kick and snare: metal, rock
    lowpass_hz: float = 0.0  # > 0: a dusty, dark kit (lo-fi)
    # Per-pan placement (-1 left .. 1 right); drums not listed sit in the centre.
    pans: tuple[tuple[str, float], ...] = (
        ("hat", 0.3), ("openhat", 0.3), ("ride", -0.35), ("crash", -0.25), ("tom_hi", -0.25),
        ("tom_lo", 0.25), ("conga_hi", 0.35), ("conga_lo", -0.3), ("shaker", 0.45),
        ("clave", -0.4), ("cowbell", 0.4), ("rim", 0.1),
    )  # fmt: skip


class DrumKit:
    """Lazily synthesised sounds for one track; the rng only decides small tunings and noise."""

    def __init__(self, kit: Kit, rng: np.random.Generator) -> None:
        self.kit = kit
        self.rng = rng
        self._tune = float(rng.uniform(0.94, 1.06))
        self._sounds: dict[tuple[str, int], Mono] = {}
        self._builders: dict[str, Callable[[], Mono]] = {
            "kick": self._kick,
            "snare": self._snare,
            "clap": self._clap,
            "hat": lambda: self._metal(kit.hat_decay, 7000.0),
            "openhat": lambda: self._metal(0.32, 6500.0),
            "ride": self._ride,
            "crash": lambda: self._metal(1.4, 4000.0, seconds=2.5),
            "rim": lambda: self._tone(1750.0, 0.012, 0.4, 2500.0),
            "tom_hi": lambda: self._drum(200.0, 150.0, 0.28),
            "tom_lo": lambda: self._drum(130.0, 95.0, 0.34),
            "conga_hi": lambda: self._drum(350.0, 330.0, 0.12, slap=0.35),
            "conga_lo": lambda: self._drum(230.0, 215.0, 0.2, slap=0.2),
            "shaker": self._shaker,
            "clave": lambda: self._tone(2500.0, 0.035, 0.05, 3000.0),
            "cowbell": self._cowbell,
            "timpani": self._timpani,
        }

    def takes(self, drum: str) -> int:
        """How many round-robin variants the drum has."""
        return FEWER_TAKES.get(drum, len(VARIANT_TUNES))

    def pan(self, drum: str) -> float:
        return dict(self.kit.pans).get(drum, 0.0)

    def sound(self, drum: str, variant: int = 0) -> Mono:
        """The drum at its mixing level (peak = LEVELS[drum]); `variant` picks a round-robin
        take (0 to len(VARIANT_TUNES) - 1)."""
        sound = self._sounds.get((drum, variant))
        if sound is None:
            tune = self._tune
            self._tune = tune * VARIANT_TUNES[variant]
            try:
                sound = self._builders[drum]()
            finally:
                self._tune = tune
            if self.kit.lowpass_hz:
                sound = filtered(sound, "lowpass", self.kit.lowpass_hz)
            sound *= np.float32(LEVELS.get(drum, 0.5) / (float(np.max(np.abs(sound))) or 1.0))
            self._sounds[drum, variant] = sound
        return sound

    def _time(self, seconds: float) -> Mono:
        return np.arange(int(seconds * RATE), dtype=np.float32) / np.float32(RATE)

    def _noise(self, n: int) -> Mono:
        return self.rng.standard_normal(n, dtype=np.float32)

    def _sweep(self, t: Mono, start: float, end: float, speed: float) -> Mono:
        """A sine whose pitch falls from start to end Hz: the body of every drum."""
        freq = np.float32(end) + np.float32(start - end) * np.exp(-t / np.float32(speed))
        cycles = np.cumsum(freq, dtype=np.float64) / RATE
        out: Mono = np.sin(TWO_PI * (cycles % 1.0).astype(np.float32))
        return out

    def _kick(self) -> Mono:
        kit = self.kit
        t = self._time(max(kit.kick_decay * 4, 0.3))
        start, end = kit.kick_hz
        body = self._sweep(t, start * self._tune, end * self._tune, 0.035)
        body *= np.exp(-t / np.float32(kit.kick_decay))
        click = filtered(self._noise(len(t)), "highpass", 1500.0) * np.exp(-t / np.float32(0.004))
        return self._saturate(body + np.float32(kit.kick_click) * click)

    def _snare(self) -> Mono:
        kit = self.kit
        t = self._time(max(kit.snare_decay * 5, kit.snare_gate + 0.05))
        tone = self._sweep(t, kit.snare_hz * 1.4 * self._tune, kit.snare_hz * self._tune, 0.015)
        tone = tone * np.exp(-t / np.float32(0.07)) * np.float32(0.6)
        if kit.snare_gate:
            # Gated reverb: a loud, flat noise tail that stops dead.
            shape = np.where(t < kit.snare_gate, np.exp(-t / np.float32(kit.snare_gate * 1.5)), 0)
        else:
            shape = np.exp(-t / np.float32(kit.snare_decay))
        rattle = filtered(self._noise(len(t)), "bandpass", (1800.0, 9000.0)) * shape
        return self._saturate(tone + rattle.astype(np.float32) * np.float32(0.9))

    def _clap(self) -> Mono:
        """Three hand claps 11 ms apart and a short room tail."""
        t = self._time(0.4)
        shape = np.zeros_like(t)
        for delay in (0.0, 0.011, 0.023):
            late = np.maximum(t - np.float32(delay), 0)
            shape += np.where(t >= delay, np.exp(-late / np.float32(0.006)), 0).astype(np.float32)
        shape += np.float32(0.6) * np.exp(-t / np.float32(0.12))
        return filtered(self._noise(len(t)), "bandpass", (900.0, 3500.0)) * shape

    def _metal(self, decay: float, cutoff: float, seconds: float = 0.0) -> Mono:
        """Hats and cymbals: high-passed noise plus a few clanging square-ish partials."""
        t = self._time(seconds or max(decay * 5, 0.08))
        mixed = self._noise(len(t))
        for hz in (205, 304, 369, 522):
            mixed += np.float32(0.25) * np.sign(np.sin(TWO_PI * np.float32(hz * self._tune) * t))
        # Band-limited at 15 kHz: a real cymbal's top end is softer than white noise's.
        out: Mono = filtered(mixed, "bandpass", (cutoff, 15000.0)) * np.exp(-t / np.float32(decay))
        return out

    def _ride(self) -> Mono:
        t = self._time(1.6)
        ride = filtered(self._noise(len(t)), "bandpass", (5000.0, 14000.0)) * np.float32(0.5)
        for hz in (3050, 4170, 5230):
            ride += np.float32(0.12) * np.sin(TWO_PI * np.float32(hz * self._tune) * t)
        out: Mono = ride * np.exp(-t / np.float32(0.45))
        return out

    def _tone(self, hz: float, decay: float, noise: float, noise_hz: float) -> Mono:
        """Wooden clicks: rim shots, claves."""
        t = self._time(max(decay * 6, 0.05))
        body = np.sin(TWO_PI * np.float32(hz * self._tune) * t) * np.exp(-t / np.float32(decay))
        hit = filtered(self._noise(len(t)), "highpass", noise_hz) * np.exp(-t / np.float32(0.008))
        out: Mono = body + np.float32(noise) * hit
        return out

    def _drum(self, start: float, end: float, decay: float, slap: float = 0.1) -> Mono:
        """Toms and hand drums: a tuned membrane with a short slap of noise."""
        t = self._time(decay * 5)
        body = self._sweep(t, start * self._tune, end * self._tune, 0.05)
        body *= np.exp(-t / np.float32(decay))
        hit = filtered(self._noise(len(t)), "bandpass", (800.0, 5000.0))
        out: Mono = body + np.float32(slap) * hit * np.exp(-t / np.float32(0.01))
        return out

    def _shaker(self) -> Mono:
        t = self._time(0.12)
        shape = (t / np.float32(0.012)) * np.exp(1 - t / np.float32(0.012))
        out: Mono = filtered(self._noise(len(t)), "bandpass", (4500.0, 12000.0)) * shape
        return out

    def _cowbell(self) -> Mono:
        t = self._time(0.4)
        ring = np.sign(np.sin(TWO_PI * np.float32(562.0) * t))
        ring += np.sign(np.sin(TWO_PI * np.float32(845.0) * t))
        return filtered(ring * np.exp(-t / np.float32(0.09)), "bandpass", (450.0, 3000.0))

    def _timpani(self) -> Mono:
        t = self._time(2.5)
        body = np.zeros_like(t)
        for ratio, amplitude in _TIMPANI:
            hz = np.float32(87.0 * ratio * self._tune)
            body += np.float32(amplitude) * np.sin(TWO_PI * hz * t)
        thump = filtered(self._noise(len(t)), "lowpass", 600.0) * np.exp(-t / np.float32(0.03))
        out: Mono = body * np.exp(-t / np.float32(0.8)) + thump
        return out

    def _saturate(self, sound: Mono) -> Mono:
        if not self.kit.drive:
            return sound
        drive = np.float32(self.kit.drive)
        out: Mono = np.tanh(drive * sound) / np.tanh(drive)
        return out


# Peak level of each drum relative to the kick, before the part's mix level.
LEVELS = {
    "kick": 1.0, "snare": 0.8, "clap": 0.7, "hat": 0.3, "openhat": 0.3, "ride": 0.22,
    "crash": 0.45, "rim": 0.5, "tom_hi": 0.7, "tom_lo": 0.75, "conga_hi": 0.55, "conga_lo": 0.6,
    "shaker": 0.22, "clave": 0.4, "cowbell": 0.3, "timpani": 0.9,
}  # fmt: skip
_TIMPANI = ((1.0, 0.8), (1.5, 0.5), (1.98, 0.3), (2.44, 0.15))
