"""Any rate and channel count in, the playout format (44.1 kHz stereo) out.

scipy's polyphase FIR resampler: exact rational ratios (32 kHz -> 44.1 kHz is
441/320) with a Kaiser-windowed anti-aliasing filter, and no torchaudio.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

from radio.audio import PLAYOUT_CHANNELS, PLAYOUT_RATE
from radio.generators.base import Samples


def resample(samples: Samples, rate: int, target_rate: int = PLAYOUT_RATE) -> Samples:
    """Resample (frames, channels) audio from `rate` to `target_rate`."""
    if rate == target_rate:
        return samples.astype(np.float32, copy=False)
    divisor = gcd(rate, target_rate)
    up, down = target_rate // divisor, rate // divisor
    out = resample_poly(samples, up, down, axis=0, window=("kaiser", 8.0))
    return np.ascontiguousarray(out, dtype=np.float32)


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
