"""Audio in, audio at a target integrated loudness (BS.1770 LUFS) with a peak ceiling out.

Gain alone cannot reach -14 LUFS and keep peaks under -1 dBFS for dynamic
material, so a look-ahead peak limiter takes the excess, and we iterate gain
and limiting until the measured loudness settles.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from radio.audio import Samples
from radio.errors import AudioError

TARGET_LUFS = -14.0
PEAK_DBFS = -1.0
# Refuse to amplify near-silence: a generator that returned almost nothing
# must not be turned into +60 dB of noise (audiocraft does the same).
QUIETEST_LUFS = -60.0
LOOKAHEAD_SECONDS = 0.005


def integrated_loudness(samples: Samples, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence)."""
    if len(samples) < int(0.4 * rate):
        raise AudioError("audio shorter than one 400 ms loudness block")
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))


def limit_peaks(samples: Samples, rate: int, ceiling_dbfs: float = PEAK_DBFS) -> Samples:
    """Look-ahead limiter: a smooth gain curve that never lets a sample exceed the ceiling."""
    ceiling = 10.0 ** (ceiling_dbfs / 20.0)
    peak = np.abs(samples).max(axis=1)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12)).astype(np.float32)
    if need.min() >= 1.0:
        return samples
    w = max(1, int(LOOKAHEAD_SECONDS * rate))
    # Min over +-w, then a moving average over w: every averaged value is a min
    # over a window containing the sample, so the gain stays at or under `need`.
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * w + 1), size=w)
    limited: Samples = np.clip(samples * gain[:, None], -ceiling, ceiling).astype(np.float32)
    return limited


def normalize(
    samples: Samples, rate: int, target_lufs: float = TARGET_LUFS, peak_dbfs: float = PEAK_DBFS
) -> tuple[Samples, float]:
    """Bring audio to `target_lufs` integrated with peaks at or below `peak_dbfs`.

    Returns the new audio and its measured loudness.
    """
    loudness = integrated_loudness(samples, rate)
    if not np.isfinite(loudness) or loudness < QUIETEST_LUFS:
        raise AudioError(f"audio is near-silent ({loudness:.1f} LUFS); refusing to amplify it")
    out = samples
    for _ in range(4):
        out = limit_peaks(
            out * np.float32(10.0 ** ((target_lufs - loudness) / 20.0)), rate, peak_dbfs
        )
        loudness = integrated_loudness(out, rate)
        if abs(loudness - target_lufs) < 0.1:
            break
    return out.astype(np.float32, copy=False), loudness
