"""Audio in, audio at a target integrated loudness (BS.1770 LUFS) with a true-peak ceiling out.

Gain alone cannot reach -14 LUFS and keep peaks under the ceiling for dynamic
material, so a look-ahead limiter takes the excess, and we iterate gain and
limiting until the measured loudness settles.

The limiter watches the true peak (the 4x oversampled signal, #9), not the
samples: a DAC and an MP3 decoder reconstruct the wave between samples, where it
can rise well above the largest sample. The ceiling sits below the -1 dBTP
listeners must never exceed by the overshoot MP3 coding adds (MP3_MARGIN_DB).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from radio.audio import Samples, meter
from radio.audio.meter import frame_peaks, true_peak_envelope
from radio.errors import AudioError

TARGET_LUFS = -14.0
HEARD_PEAK_DBTP = -1.0  # the most any track may reach as heard, after MP3 decoding
# Measured (#9), limited here, encoded by our 128 kbps LAME encoder and decoded by
# ffmpeg: the sine synth's tracks peaked at most 0.13 dB over their FLAC's true
# peak, but through FluidSynth's bright leads and hats electro and lo-fi overshot
# by up to 1.48 dB (30 tracks of every genre: median -0.13 dB), and the stream
# peaked at +0.5 dBTP. With outros carrying their lead, a 15-station stream then
# showed electro overshooting by 2.2 dB (2 of 111 tracks over -1 dBTP with a 2 dB
# margin). 3 dB leaves 0.8 dB over the worst seen.
MP3_MARGIN_DB = 3.0
PEAK_DBTP = HEARD_PEAK_DBTP - MP3_MARGIN_DB
LIMIT_PASSES = 4  # each pass takes most of what is left; the last is a plain gain
AIM_UNDER = 10.0 ** (-0.1 / 20.0)  # the true-peak limiter aims 0.1 dB under its ceiling
# Refuse to amplify near-silence: a generator that returned almost nothing
# must not be turned into +60 dB of noise (audiocraft does the same).
QUIETEST_LUFS = -60.0
LOOKAHEAD_SECONDS = 0.005


def integrated_loudness(samples: Samples, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence)."""
    if len(samples) < int(0.4 * rate):
        raise AudioError("audio shorter than one 400 ms loudness block")
    return meter.integrated_loudness(samples, rate)


def limit_peaks(
    samples: Samples, rate: int, ceiling_dbtp: float = PEAK_DBTP, true_peak: bool = True
) -> Samples:
    """Look-ahead limiter: a smooth gain curve that keeps the 4x oversampled signal (or,
    with `true_peak` off, the samples: a quicker first approximation) at or under the
    ceiling."""
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    # Aim a little under the ceiling: the wave between samples moves a little with
    # the gain, and a second look should find nothing left to do.
    aim = ceiling * AIM_UNDER if true_peak else ceiling
    w = max(1, int(LOOKAHEAD_SECONDS * rate))
    out = samples
    for _ in range(LIMIT_PASSES if true_peak else 1):
        # Frames under `aim` get a gain of 1 whatever their exact peak, so the meter
        # may skip the blocks that provably stay under it.
        peak = true_peak_envelope(out, floor=aim) if true_peak else frame_peaks(out)
        if peak.size == 0 or peak.max() <= ceiling:
            return out
        if out is samples:
            out = samples.astype(np.float32, copy=True)
        # A gain curve is made only around the frames over `aim`: it is 1 everywhere
        # else, and a track-sized curve cost five track-sized arrays at the peak.
        for start, stop in _stretches(np.flatnonzero(peak > aim), 2 * w, len(out)):
            need = np.minimum(1.0, aim / np.maximum(peak[start:stop], 1e-12))
            # Min over +-w, then a moving average over w: every averaged value is a min
            # over a window containing the frame, so the gain stays at or under `need`.
            # A gain change reshapes the wave between samples a little, hence the passes.
            gain = uniform_filter1d(minimum_filter1d(need, size=2 * w + 1), size=w)
            out[start:stop] *= gain.astype(np.float32)[:, None]
    if not true_peak:
        return out
    peak_now = float(true_peak_envelope(out, floor=ceiling).max())
    if peak_now > ceiling:
        out = (out * np.float32(ceiling / peak_now)).astype(np.float32)
    return out


def _stretches(over: npt.NDArray[np.intp], margin: int, frames: int) -> list[tuple[int, int]]:
    """The frames `over` grouped into stretches that reach `margin` frames beyond them,
    stretches that would touch merged. Past `margin` the limiter's gain is exactly 1, so
    each stretch's gain curve equals what one over the whole track gives there."""
    if over.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(over) > 2 * margin)
    firsts = np.concatenate([over[:1], over[breaks + 1]])
    lasts = np.concatenate([over[breaks], over[-1:]])
    return [
        (max(0, int(first) - margin), min(frames, int(last) + margin + 1))
        for first, last in zip(firsts, lasts, strict=True)
    ]


def normalize(
    samples: Samples, rate: int, target_lufs: float = TARGET_LUFS, peak_dbtp: float = PEAK_DBTP
) -> tuple[Samples, float]:
    """Bring audio to `target_lufs` integrated with true peaks at or below `peak_dbtp`.

    Returns the new audio and its measured loudness.
    """
    loudness = integrated_loudness(samples, rate)
    if not np.isfinite(loudness) or loudness < QUIETEST_LUFS:
        raise AudioError(f"audio is near-silent ({loudness:.1f} LUFS); refusing to amplify it")
    out = samples
    # Gain and a sample-peak limiter settle the loudness; the true-peak limiter (about
    # a second of CPU per 90 s track for each look at the oversampled signal) then
    # only trims what overshoots between samples, which moves the loudness by
    # hundredths of a LU, measured again below.
    for _ in range(4):
        gained = out * np.float32(10.0 ** ((target_lufs - loudness) / 20.0))
        out = limit_peaks(gained, rate, peak_dbtp, true_peak=False)
        loudness = integrated_loudness(out, rate)
        if abs(loudness - target_lufs) < 0.1:
            break
    out = limit_peaks(out, rate, peak_dbtp)
    return out.astype(np.float32, copy=False), integrated_loudness(out, rate)
