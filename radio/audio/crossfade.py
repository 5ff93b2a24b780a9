"""Two overlapping stretches of audio in, one equal-power crossfade out.

Equal power (cos/sin) keeps perceived loudness level through the overlap of
two uncorrelated tracks, where a linear fade dips by 3 dB in the middle. Its
gains sum to 1.41 at the midpoint, so two ends at full level can peak up to 3 dB
over the true-peak ceiling each track was limited to (#9 measured +0.3 dBTP at
electro joins): `blend` makes the whole overlap at once and limits it.

Equal power also assumes both ends play at full level all through the overlap. Where
one falls silent for a beat (a rest in an intro, a chord left to ring), the other is
3 dB down at the midpoint and the join dips up to 8 LU as heard (#9). So `blend`
also rides the mix's momentary level up towards the loudness every track is
normalised to, as a segue leveller does: only up, eased, at most 9 dB (a rest in one
end plus the 3 dB both are down at the midpoint).
"""

from __future__ import annotations

import numpy as np

from radio.audio import Samples
from radio.audio.edges import ride_up
from radio.audio.loudness import TARGET_LUFS, limit_peaks

BLEND_TOLERANCE_LU = 2.0  # a crossfade this close to the tracks' level is left as mixed


def equal_power_gains(start: int, count: int, total: int) -> tuple[Samples, Samples]:
    """Fade-out and fade-in gains for frames start..start+count of a `total`-frame overlap."""
    t = (np.arange(start, start + count, dtype=np.float32) + 0.5) / max(total, 1)
    angle = np.clip(t, 0.0, 1.0) * np.float32(np.pi / 2)
    return np.cos(angle)[:, None], np.sin(angle)[:, None]


def crossfade(
    outgoing: Samples, incoming: Samples, start: int = 0, total: int | None = None
) -> Samples:
    """Mix equal-length pieces of the outgoing and incoming tracks over an overlap.

    `start` and `total` place these frames inside a longer overlap, so playout can
    render a crossfade in pieces as wall-clock chunks arrive.
    """
    total = len(outgoing) if total is None else total
    fade_out, fade_in = equal_power_gains(start, len(outgoing), total)
    return (outgoing * fade_out + incoming * fade_in).astype(np.float32)


def blend(outgoing: Samples, incoming: Samples, rate: int) -> Samples:
    """The whole equal-power crossfade of two equal-length ends, held near the level
    every track plays at, its true peak held at the ceiling every prepared track keeps (the
    limiter leaves the rest as is).

    The level it is held near is the loudness every prepared track is normalised to: their
    ends were lifted to their bodies already, so that is the level the listener heard
    before and will hear after."""
    mixed = crossfade(outgoing, incoming)
    # One pass: the edges' holes were filled in preparation, and playout renders this.
    lifted = ride_up(mixed, rate, TARGET_LUFS - BLEND_TOLERANCE_LU, passes=1)
    return limit_peaks(lifted, rate)
