"""Audio in, level figures out: K-weighted momentary and integrated loudness, true peak.

What the ear and a DAC see rather than what the samples say: the BS.1770 K-weighting
(pyloudnorm's filter stages, with the standard's constants) over sliding blocks, and
the peak of the signal reconstructed between samples (4x oversampled, as BS.1770's
true-peak meter does).

The true-peak meter runs on every look the limiter takes at a track, so it is built
for cost: resample_poly's interpolator split into its four phases and applied block
by block as one multiply-add per tap, in float32, with bounded memory; and blocks
that provably cannot reach the level the caller asks about are not interpolated.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyloudnorm
from scipy.signal import firwin, sosfilt

from radio.audio import Samples

Levels = npt.NDArray[np.float64]

MOMENTARY_SECONDS = 0.4  # BS.1770's momentary block
HOP_SECONDS = 0.1  # EBU R128 updates the momentary level ten times a second
OVERSAMPLE = 4
# Input frames each side of a frame that its interpolated values read: scipy's
# resample_poly default (half_len 10 per unit of the up factor), so this meter reads
# what the resample_poly envelope it replaces read. BS.1770-4's own 48-tap filter
# (12 per phase) under-read that envelope by 0.5 to 0.8 dB on clipped audio, whose
# overshoot lives near Nyquist where a short filter's transition band cuts it.
HALF_FRAMES = 10
PHASE_TAPS = 2 * HALF_FRAMES + 1  # 21 per phase
KAISER_BETA = 5.0  # resample_poly's default window
# Frames interpolated at once: big enough that numpy's per-call overhead vanishes,
# small enough that a block's temporaries stay in cache and quiet blocks skip.
PEAK_BLOCK_FRAMES = 8192
FILTER_FRAMES = 1 << 16  # K-weighting pieces: 1.5 s, a megabyte of float64
SILENT_LUFS = -120.0  # what an all-zero block reads, instead of -inf
ABSOLUTE_GATE_LUFS = -70.0  # BS.1770-4's gates for integrated loudness
RELATIVE_GATE_LU = -10.0


@lru_cache(maxsize=8)
def _k_filter(rate: int) -> npt.NDArray[np.float64]:
    """The K-weighting at `rate` as second-order sections: pyloudnorm's pre-filter shelf,
    then its RLB high-pass. One sosfilt call runs both in C."""
    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, rate, "high_pass")
    return np.array([np.concatenate([f.b, f.a]) for f in (shelf, high_pass)], dtype=np.float64)


def frame_peaks(samples: Samples) -> npt.NDArray[np.float32]:
    """Per frame, the largest sample magnitude of any channel.

    Element-wise maxima over the channel columns: numpy's reduction over a length-2
    last axis (`np.abs(samples).max(axis=1)`) is several times slower."""
    # Column by column: np.abs of the whole array would copy the track once more.
    peaks = np.abs(samples[:, 0]).astype(np.float32, copy=False)
    for column in samples.T[1:]:
        np.maximum(peaks, np.abs(column), out=peaks)
    return peaks


def _block_power(samples: Samples, rate: int, block: float, hop: float) -> Levels:
    """Mean K-weighted power (summed over channels) of each `block`-second window, one
    every `hop` seconds from the start."""
    size, step = int(block * rate), int(hop * rate)
    if len(samples) < size:
        return np.zeros(0)
    starts = np.arange(0, len(samples) - size + 1, step)
    ends = starts + size
    # The running sum of the per-frame power, kept only where a window starts or
    # ends. Filtering FILTER_FRAMES at a time, the filter's state carried across,
    # gives the same output as one call while holding about a megabyte: one call
    # held four copies of the track in float64 (121 MB for 90 s, #8).
    marks = np.union1d(starts, ends)
    at_marks = np.zeros(len(marks))
    sos = _k_filter(rate)
    state = np.zeros((len(sos), samples.shape[1], 2))
    total, mark = 0.0, int(np.searchsorted(marks, 1))  # the running sum before frame 0 is 0
    for first in range(0, len(samples), FILTER_FRAMES):
        # Channel-major: filtering along contiguous rows is twice as quick.
        chunk = samples[first : first + FILTER_FRAMES].T
        weighted, state = sosfilt(sos, chunk, axis=1, zi=state)
        running = np.cumsum(np.square(weighted).sum(axis=0)) + total
        last = first + len(running)
        stop = int(np.searchsorted(marks, last, side="right"))
        at_marks[mark:stop] = running[marks[mark:stop] - first - 1]
        mark, total = stop, float(running[-1])
    power = at_marks[np.searchsorted(marks, ends)] - at_marks[np.searchsorted(marks, starts)]
    return np.asarray(power / size)


def _lufs(power: Levels | float) -> Levels:
    return np.asarray(-0.691 + 10 * np.log10(np.maximum(power, 10 ** (SILENT_LUFS / 10))))


def momentary_loudness(
    samples: Samples, rate: int, block: float = MOMENTARY_SECONDS, hop: float = HOP_SECONDS
) -> Levels:
    """LUFS of each `block`-second window, one every `hop` seconds from the start.

    Value i covers frames [i*hop, i*hop + block); fewer frames than one block give
    an empty array."""
    return _lufs(_block_power(samples, rate, block, hop))


def integrated_loudness(samples: Samples, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence or under one block).

    The standard's gating over the momentary blocks (400 ms, 75% overlap), done on
    whole arrays: pyloudnorm's Python loop over blocks cost a third of a second per
    90 s track and was run several times per track."""
    power = _block_power(samples, rate, MOMENTARY_SECONDS, HOP_SECONDS)
    loudness = _lufs(power)
    power = power[loudness > ABSOLUTE_GATE_LUFS]
    if power.size == 0:
        return float("-inf")
    relative_gate = float(_lufs(float(power.mean()))) + RELATIVE_GATE_LU
    power = power[_lufs(power) > relative_gate]
    return float(_lufs(float(power.mean()))) if power.size else float("-inf")


@lru_cache(maxsize=1)
def _interpolator() -> tuple[npt.NDArray[np.float32], float]:
    """The polyphase interpolator as an (OVERSAMPLE, PHASE_TAPS) matrix, and its gain bound.

    resample_poly's own design: a Kaiser-windowed sinc (scipy's firwin) of
    2 * HALF_FRAMES * OVERSAMPLE + 1 taps cut at the original Nyquist, gain
    OVERSAMPLE to make up for the zeros upsampling inserts. Its delay is exactly
    HALF_FRAMES input frames, so phase q of frame n falls at n + q / OVERSAMPLE and
    reads frames n - HALF_FRAMES .. n + HALF_FRAMES. Row q, column i holds the tap
    that multiplies frame n - HALF_FRAMES + i.

    The bound is the largest sum of absolute taps of any phase: no interpolated value
    can exceed it times the largest magnitude of the frames it is computed from.
    """
    length = 2 * HALF_FRAMES * OVERSAMPLE + 1
    taps = firwin(length, 1.0 / OVERSAMPLE, window=("kaiser", KAISER_BETA)) * OVERSAMPLE
    # Zero-padded to whole phases: phases[j, q] = taps[q + OVERSAMPLE * j].
    padded = np.zeros(PHASE_TAPS * OVERSAMPLE)
    padded[:length] = taps
    phases = padded.reshape(PHASE_TAPS, OVERSAMPLE)
    matrix = np.ascontiguousarray(phases[::-1].T, dtype=np.float32)
    bound = float(np.abs(phases).sum(axis=0).max())
    return matrix, bound


_BEFORE = _AFTER = HALF_FRAMES  # frames each side of a frame that its values read


def _interpolate(
    matrix: npt.NDArray[np.float32], channel: npt.NDArray[np.float32], frames: int
) -> npt.NDArray[np.float32]:
    """The OVERSAMPLE phases of `frames` frames, phase-major, from one padded channel.

    One multiply-add per tap over the whole block rather than a matrix product: BLAS
    would do the same arithmetic, but OpenBLAS spreads so small a product over its
    threads, which cost 4 to 45 times the CPU of one thread (measured on a busy
    two-core machine), and we do not want to pin the process's BLAS threads here."""
    over = np.zeros((OVERSAMPLE, frames), np.float32)
    for i in range(PHASE_TAPS):
        over += matrix[:, i : i + 1] * channel[None, i : i + frames]
    return over


def true_peak_envelope(samples: Samples, floor: float | None = None) -> npt.NDArray[np.float32]:
    """Per frame, the largest magnitude of the 4x oversampled signal around it, any channel
    (the frame's own samples included).

    With `floor`, blocks of frames whose oversampled signal provably stays under it
    (their sample peak times the interpolator's gain bound is under it) are not
    interpolated: there the envelope holds the sample peak, which is at most the true
    peak and under `floor` too. Callers that only act on frames at or above a level
    (the limiter) pass that level and get the same decisions for less work."""
    frames = len(samples)
    if frames == 0:
        return np.zeros(0, np.float32)
    matrix, bound = _interpolator()
    sample_peak = frame_peaks(samples)
    envelope = sample_peak.copy()
    # Block by block, each padded with the frames its interpolation reads (zeros past
    # the ends): a padded copy of the whole track cost two track-sized arrays at the
    # peak of preparation. Channel-major, so each channel's frames are contiguous for
    # the products below (and the peak over channels is an element-wise maximum).
    padded = np.zeros((samples.shape[1], PEAK_BLOCK_FRAMES + _BEFORE + _AFTER), np.float32)
    for start in range(0, frames, PEAK_BLOCK_FRAMES):
        stop = min(start + PEAK_BLOCK_FRAMES, frames)
        # Frames start - HALF_FRAMES .. stop + HALF_FRAMES are what frames start .. stop read.
        low, high = max(0, start - _BEFORE), min(frames, stop + _AFTER)
        if floor is not None and float(sample_peak[low:high].max()) * bound < floor:
            continue
        block = padded[:, : stop - start + _BEFORE + _AFTER]
        block.fill(0.0)
        offset = low - (start - _BEFORE)
        block[:, offset : offset + high - low] = samples[low:high].T
        peaks = envelope[start:stop]
        for channel in block:
            over = _interpolate(matrix, channel, stop - start)
            np.abs(over, out=over)
            np.maximum(peaks, np.maximum(over[0], over[1]), out=peaks)
            np.maximum(peaks, np.maximum(over[2], over[3]), out=peaks)
    return envelope


def true_peak_dbtp(samples: Samples) -> float:
    """The true peak in dBTP (-inf for silence)."""
    peak = float(true_peak_envelope(samples).max(initial=0.0))
    return 20 * float(np.log10(peak)) if peak > 0 else float("-inf")
