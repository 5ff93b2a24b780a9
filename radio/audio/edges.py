"""Generated audio in, audio with silent edges trimmed and short fades out.

Models often start with a breath of silence and stop mid-note; trimming and a
short fade keep the crossfade musical and free of clicks.
"""

from __future__ import annotations

import numpy as np

from radio.audio import Samples

SILENCE_DBFS = -60.0
FADE_IN_SECONDS = 0.01
FADE_OUT_SECONDS = 0.25


def trim_silence(samples: Samples, threshold_dbfs: float = SILENCE_DBFS) -> Samples:
    """Drop leading and trailing frames quieter than the threshold (all channels)."""
    threshold = 10.0 ** (threshold_dbfs / 20.0)
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def fade_edges(
    samples: Samples,
    rate: int,
    fade_in: float = FADE_IN_SECONDS,
    fade_out: float = FADE_OUT_SECONDS,
) -> Samples:
    """Linear fade-in and equal-power fade-out, so no edge starts or ends with a click."""
    out = samples.copy()
    n_in = min(int(fade_in * rate), len(out) // 2)
    n_out = min(int(fade_out * rate), len(out) // 2)
    if n_in:
        out[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False, dtype=np.float32)[:, None]
    if n_out:
        ramp = np.cos(np.linspace(0.0, np.pi / 2, n_out, dtype=np.float32))
        out[-n_out:] *= ramp[:, None]
    return out
