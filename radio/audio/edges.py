"""Generated audio in, audio whose edges are ready for a crossfade out: silence trimmed,
the first and last seconds brought up to the track's own level, the holes in them
filled, a click guard.

The crossfade is the only fade at a join (#9): the equal-power crossfade keeps the
level even only when both ends play at full musical level, so nothing here fades
a track out. A model's quiet intro or decaying ending is lifted towards the body
instead, and a few milliseconds of ramp are added only where an edge would
otherwise start or stop on a step (a click).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from radio.audio import Samples
from radio.audio.meter import (
    HOP_SECONDS,
    MOMENTARY_SECONDS,
    Levels,
    frame_peaks,
    momentary_loudness,
)

SILENCE_DBFS = -60.0
CLICK_DBFS = -50.0  # an edge sample louder than this would click without a ramp
CLICK_RAMP_SECONDS = 0.005
EDGE_SECONDS = 8.0  # covers a 3 s crossfade and the second-long reach of a level meter
LEVEL_BLOCK_SECONDS = 1.0  # long enough not to ride single beats
LEVEL_HOP_SECONDS = 0.1
LEVEL_TOLERANCE_LU = 1.0  # edges within this of the body are left alone
EASE_SECONDS = 0.5  # how fast the lift follows the music: fast, yet no gain step
MAX_LIFT_DB = 12.0  # a near-silent ending stays quiet rather than becoming a noise swell
# A rest or a chord left to ring is too short for the 1 s blocks, yet a join's 400 ms
# (momentary) level falls into it (#9): inside the edges such a hole is ridden up to
# HOLE_LU under the body, as a segue leveller rides a crossfade.
HOLE_LU = 4.0
RIDE_EASE_SECONDS = 0.3  # under one momentary block, so a beat-long hole is filled
RIDE_PASSES = 3
MAX_RIDE_DB = 9.0


def trim_silence(samples: Samples, threshold_dbfs: float = SILENCE_DBFS) -> Samples:
    """Drop leading and trailing frames quieter than the threshold (all channels)."""
    threshold = 10.0 ** (threshold_dbfs / 20.0)
    loud = np.flatnonzero(frame_peaks(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def guard_clicks(samples: Samples, rate: int) -> Samples:
    """A 5 ms ramp at an edge that starts or stops on a loud sample; other edges untouched."""
    out = samples.copy()
    ramp_frames = min(int(CLICK_RAMP_SECONDS * rate), len(out) // 2)
    if ramp_frames == 0:
        return out
    loud = 10.0 ** (CLICK_DBFS / 20.0)
    ramp = np.linspace(0.0, 1.0, ramp_frames, endpoint=False, dtype=np.float32)[:, None]
    if np.abs(out[0]).max() > loud:
        out[:ramp_frames] *= ramp
    if np.abs(out[-1]).max() > loud:
        out[-ramp_frames:] *= ramp[::-1]
    return out


def edge_lift_db(
    samples: Samples, rate: int, seconds: float = EDGE_SECONDS
) -> tuple[Levels, Levels, float]:
    """The gain in dB that brings the first and last `seconds` up to the body, at the
    centres (in seconds) of 1 s blocks, and the body's level: (lift, centres, body).

    The body is the median 1 s level away from the edges; each block of an edge
    that is more than LEVEL_TOLERANCE_LU under it is lifted by the shortfall (at
    most MAX_LIFT_DB), eased over EASE_SECONDS, and tapered to nothing over the edge's
    inner half. The ease takes the least shortfall around each block first, so a
    lift never spills over into loud music next to it."""
    frames = len(samples)
    levels = momentary_loudness(samples, rate, LEVEL_BLOCK_SECONDS, LEVEL_HOP_SECONDS)
    centres = block_centres(len(levels), LEVEL_BLOCK_SECONDS, LEVEL_HOP_SECONDS)
    if len(levels) < 3:
        return np.zeros(len(levels)), centres, float(np.median(levels))
    duration = frames / rate
    edge = min(seconds, duration / 3)
    inner = (centres > edge) & (centres < duration - edge)
    body = float(np.median(levels[inner] if inner.any() else levels))
    short = np.clip(body - LEVEL_TOLERANCE_LU - levels, 0.0, MAX_LIFT_DB)
    eased = ease(short, round(EASE_SECONDS / LEVEL_HOP_SECONDS))
    return eased * edge_weight(centres, duration, edge), centres, body


def edge_weight(centres: Levels, duration: float, edge: float) -> Levels:
    """1 over the outer half of each edge, tapering to 0 over its inner half."""
    from_edge = np.minimum(centres, duration - centres)
    return np.asarray(np.clip((edge - from_edge) / (edge / 2), 0.0, 1.0))


def ease(short: Levels, hold: int) -> Levels:
    """A shortfall per block turned into a lift that moves no faster than `hold` blocks:
    the least shortfall around each block first, so a lift never spills over into
    loud music next to it, then a moving average, so it has no step."""
    hold = max(1, hold)
    return np.asarray(uniform_filter1d(minimum_filter1d(short, size=hold), size=hold))


def fill(short: Levels, hold: int) -> Levels:
    """A shortfall per block turned into a lift over all the audio the block measured
    (MOMENTARY_SECONDS around its centre), then a moving average, so it has no step."""
    reach = round(MOMENTARY_SECONDS / HOP_SECONDS)
    return np.asarray(uniform_filter1d(maximum_filter1d(short, size=reach), size=max(1, hold)))


def block_centres(count: int, block: float, hop: float) -> Levels:
    """The centre, in seconds, of each of `count` blocks taken every `hop` seconds."""
    return block / 2 + np.arange(count, dtype=np.float64) * hop


def per_frame(lift: Levels, centres: Levels, rate: int, start: int, stop: int) -> Levels:
    """A lift measured at block centres (seconds), interpolated to frames start..stop."""
    times = (np.arange(start, stop) + 0.5) / rate
    # Outside the block centres np.interp holds the first and last values: the very
    # edges get the lift of the nearest measured block.
    return np.asarray(np.interp(times, centres, lift), dtype=np.float64)


def level_edges(samples: Samples, rate: int, seconds: float = EDGE_SECONDS) -> Samples:
    """The track with its first and last `seconds` lifted to the level of its body, and
    the holes left in them (on the 400 ms level) filled to HOLE_LU under it.

    Only the edges are touched: a gain curve for every frame of a 90 s track cost four
    track-sized arrays (106 MB at the peak of preparation) to multiply the middle by one."""
    lift, centres, body = edge_lift_db(samples, rate, seconds)
    out = samples.astype(np.float32, copy=True)
    frames = len(out)
    duration, edge = frames / rate, min(seconds, frames / rate / 3)
    # The taper ends `seconds` from each end; interpolation reaches one block further.
    reach = min(frames, int((seconds + LEVEL_HOP_SECONDS) * rate))
    parts = [(0, frames)] if 2 * reach >= frames else [(0, reach), (frames - reach, frames)]
    for start, stop in parts:
        if lift.any():
            gain = gain_of(per_frame(lift, centres, rate, start, stop))
            out[start:stop] *= gain

        def weight(at: Levels, start: int = start) -> Levels:
            # Holes are filled all through the edges: each fill is local, so it needs
            # no taper, and a join hears the whole edge (crossfade and 3 s either side).
            at = at + start / rate
            return np.asarray(np.minimum(at, duration - at) <= edge, dtype=np.float64)

        out[start:stop] = ride_up(out[start:stop], rate, body - HOLE_LU, weight, spread=True)
    return out


def ride_up(
    samples: Samples,
    rate: int,
    floor: float,
    weight: Callable[[Levels], Levels] | None = None,
    spread: bool = False,
    passes: int = RIDE_PASSES,
) -> Samples:
    """`samples` with the momentary (400 ms) level lifted wherever it falls under
    `floor` (LUFS): only up, eased over RIDE_EASE_SECONDS, at most MAX_RIDE_DB, times
    `weight` (of block centres in seconds) where given.

    The ease takes the least shortfall around each block, so that a lift never spills
    into loud music next to a hole; a one-beat hole is then only part filled, so each
    further pass measures the lifted audio again and adds what is still short. With
    `spread`, a block's shortfall lifts the whole 400 ms it measured instead (`fill`):
    a rest narrower than a block is filled at the price of lifting the beats either side
    of it a little."""
    lift = np.zeros(len(samples))
    out = samples
    hold = round(RIDE_EASE_SECONDS / HOP_SECONDS)
    for _ in range(passes):
        levels = momentary_loudness(out, rate)
        if len(levels) < 3:
            break
        centres = block_centres(len(levels), MOMENTARY_SECONDS, HOP_SECONDS)
        short = np.clip(floor - levels, 0.0, MAX_RIDE_DB)
        if weight is not None:
            short *= weight(centres)
        if not short.any():
            break
        eased = fill(short, hold) if spread else ease(short, hold)
        lift = np.minimum(lift + per_frame(eased, centres, rate, 0, len(samples)), MAX_RIDE_DB)
        out = (samples * gain_of(lift)).astype(np.float32)
    return out


def gain_of(lift_db: Levels) -> Samples:
    """Per-frame gains in dB as a (frames, 1) factor for stereo samples."""
    return (10.0 ** (lift_db / 20.0)).astype(np.float32)[:, None]
