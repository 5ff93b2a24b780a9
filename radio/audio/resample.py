"""Any rate and channel count in, the playout format (44.1 kHz stereo) out.

scipy's polyphase FIR resampler: exact rational ratios (32 kHz -> 44.1 kHz is
441/320) and no torchaudio. The anti-imaging filter is our own, longer than
scipy's default: flat to 92% of the lower Nyquist (14.7 kHz from 32 kHz, where
MusicGen's codec still has content) with images and aliases over 100 dB down.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin, resample_poly

from radio.audio import PLAYOUT_CHANNELS, PLAYOUT_RATE, Samples


def resample(samples: Samples, rate: int, target_rate: int = PLAYOUT_RATE) -> Samples:
    """Resample (frames, channels) audio from `rate` to `target_rate`."""
    if rate == target_rate:
        return samples.astype(np.float32, copy=False)
    divisor = gcd(rate, target_rate)
    up, down = target_rate // divisor, rate // divisor
    out = resample_poly(samples, up, down, axis=0, window=_filter(up, down))
    return np.ascontiguousarray(out, dtype=np.float32)


PASSBAND = 0.92  # fraction of the lower Nyquist kept flat
ZERO_CROSSINGS = 48  # per side: sets the transition's steepness (and the cost)
KAISER_BETA = 10.0  # about 100 dB of stop-band rejection


@lru_cache(maxsize=8)
def _filter(up: int, down: int) -> npt.NDArray[np.float64]:
    """Low-pass at the upsampled rate, cutting mid-way through [passband, Nyquist]."""
    widest = max(up, down)
    taps = 2 * ZERO_CROSSINGS * widest + 1
    cutoff = (1.0 + PASSBAND) / 2.0 / widest
    # resample_poly scales an explicit filter by `up` itself.
    return np.asarray(firwin(taps, cutoff, window=("kaiser", KAISER_BETA)), dtype=np.float64)


def to_channels(samples: Samples, channels: int = PLAYOUT_CHANNELS) -> Samples:
    """Mono to stereo by duplication, anything wider down-mixed by averaging."""
    have = samples.shape[1]
    if have == channels:
        return samples
    mono = samples.mean(axis=1, keepdims=True, dtype=np.float32)
    return np.ascontiguousarray(np.repeat(mono, channels, axis=1))


def to_playout(samples: Samples, rate: int) -> Samples:
    """Generator output in, 44.1 kHz stereo float32 out."""
    return to_channels(resample(samples, rate))
