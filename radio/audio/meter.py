"""Audio in, level figures out: K-weighted momentary loudness over time and true peak.

What the ear and a DAC see rather than what the samples say: the BS.1770 K-weighting
(pyloudnorm's filter stages, with the standard's constants) over sliding blocks, and
the peak of the signal reconstructed between samples (4x oversampled, as BS.1770's
true-peak meter does).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyloudnorm
from scipy.signal import lfilter, resample_poly

from radio.audio import Samples

Levels = npt.NDArray[np.float64]

MOMENTARY_SECONDS = 0.4  # BS.1770's momentary block
HOP_SECONDS = 0.1  # EBU R128 updates the momentary level ten times a second
OVERSAMPLE = 4
SILENT_LUFS = -120.0  # what an all-zero block reads, instead of -inf


@lru_cache(maxsize=8)
def _k_filters(rate: int) -> tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]:
    """The two K-weighting biquads (pre-filter shelf, RLB high-pass) at `rate`."""
    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, rate, "high_pass")
    return tuple((np.asarray(f.b), np.asarray(f.a)) for f in (shelf, high_pass))


def momentary_loudness(
    samples: Samples, rate: int, block: float = MOMENTARY_SECONDS, hop: float = HOP_SECONDS
) -> Levels:
    """LUFS of each `block`-second window, one every `hop` seconds from the start.

    Value i covers frames [i*hop, i*hop + block); fewer frames than one block give
    an empty array."""
    weighted = samples.astype(np.float64)
    for b, a in _k_filters(rate):
        weighted = lfilter(b, a, weighted, axis=0)
    power = np.concatenate([[0.0], np.cumsum((weighted**2).sum(axis=1))])
    size, step = int(block * rate), int(hop * rate)
    if len(samples) < size:
        return np.zeros(0)
    starts = np.arange(0, len(samples) - size + 1, step)
    mean = (power[starts + size] - power[starts]) / size
    return np.asarray(-0.691 + 10 * np.log10(np.maximum(mean, 10 ** (SILENT_LUFS / 10))))


def true_peak_envelope(samples: Samples) -> npt.NDArray[np.float32]:
    """Per frame, the largest magnitude of the 4x oversampled signal around it, any channel."""
    if len(samples) == 0:
        return np.zeros(0, np.float32)
    over = np.abs(resample_poly(samples, OVERSAMPLE, 1, axis=0))
    per_frame = over[: len(samples) * OVERSAMPLE].reshape(len(samples), OVERSAMPLE, -1)
    return np.asarray(per_frame.max(axis=(1, 2)), dtype=np.float32)


def true_peak_dbtp(samples: Samples) -> float:
    """The true peak in dBTP (-inf for silence)."""
    peak = float(true_peak_envelope(samples).max(initial=0.0))
    return 20 * float(np.log10(peak)) if peak > 0 else float("-inf")
