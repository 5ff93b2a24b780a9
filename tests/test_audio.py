from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import butter, resample_poly, sosfilt

from radio.audio.crossfade import BLEND_TOLERANCE_LU, blend, crossfade, equal_power_gains
from radio.audio.edges import HOLE_LU, guard_clicks, level_edges, trim_silence
from radio.audio.loudness import (
    PEAK_DBTP,
    TARGET_LUFS,
    integrated_loudness,
    limit_peaks,
    normalize,
)
from radio.audio.meter import (
    frame_peaks,
    momentary_loudness,
    true_peak_dbtp,
    true_peak_envelope,
)
from radio.audio.resample import resample, to_playout
from radio.errors import AudioError
from radio.generators.base import GenerationRequest
from radio.generators.synth import SynthGenerator

RATE = 44100


def noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((int(seconds * RATE), 2)) * level).astype(np.float32)


def test_trim_silence_drops_quiet_edges_only() -> None:
    body = noise(1.0)
    padded = np.concatenate(
        [np.zeros((RATE, 2), np.float32), body, np.zeros((RATE // 2, 2), np.float32)]
    )
    trimmed = trim_silence(padded)
    assert abs(len(trimmed) - len(body)) < 10
    assert len(trim_silence(np.zeros((RATE, 2), np.float32))) == 0


def test_click_guard_ramps_only_an_edge_that_would_click() -> None:
    guarded = guard_clicks(np.ones((RATE, 2), np.float32), RATE)
    assert guarded[0].max() == 0.0 and guarded[-1].max() < 0.01
    assert guarded[int(0.006 * RATE) : -int(0.006 * RATE)].min() == 1.0  # 5 ms, no fade
    quiet_edges = noise(1.0)
    quiet_edges[0] = quiet_edges[-1] = 0.0  # starts and ends at rest: nothing to guard
    np.testing.assert_array_equal(guard_clicks(quiet_edges, RATE), quiet_edges)


def test_level_edges_lifts_a_quiet_intro_and_ending_to_the_body() -> None:
    # 30 s of noise whose first and last 4 s are 8 dB down, as a soft intro and a fade.
    audio = noise(30.0, 0.1)
    soft = np.float32(10 ** (-8 / 20))
    audio[: 4 * RATE] *= soft
    audio[-4 * RATE :] *= soft
    levels = momentary_loudness(level_edges(audio, RATE), RATE)
    body = float(np.median(levels[100:250]))
    assert levels[:30].min() > body - 3 and levels[-30:].min() > body - 3
    assert levels.max() < body + 2  # lifted to the body, not above it
    even = noise(30.0, 0.1, seed=3)
    np.testing.assert_array_equal(level_edges(even, RATE), even)  # nothing to do


def test_level_edges_fills_a_rest_in_an_edge_and_leaves_the_body_alone() -> None:
    """A 350 ms rest is too short for the 1 s blocks the edges are levelled on, yet a
    join's 400 ms level falls 8-17 LU into one (#9): inside the edges it is ridden up."""
    audio = noise(30.0, 0.1)
    rest = slice(int(3.0 * RATE), int(3.35 * RATE))
    middle = slice(int(15.0 * RATE), int(15.35 * RATE))
    audio[rest] *= np.float32(0.01)
    audio[middle] *= np.float32(0.01)
    levelled = level_edges(audio, RATE)
    before, after = momentary_loudness(audio, RATE), momentary_loudness(levelled, RATE)
    body = float(np.median(before))
    edge, centre = slice(20, 40), slice(140, 160)  # blocks around the rests (100 ms hops)
    assert before[edge].min() < body - 6 and before[centre].min() < body - 6
    assert after[edge].min() > body - HOLE_LU - 0.5  # filled to HOLE_LU under the body
    assert after[edge].max() < body + 2  # the beats beside it barely move
    np.testing.assert_array_equal(levelled[middle], audio[middle])  # a rest mid-track stays


def overshooting(seconds: float = 2.0) -> np.ndarray:
    """Full-scale samples whose wave peaks 3 dB above them, between samples: a quarter of
    the rate at 45 degrees of phase puts every sample at 0.707 of the wave's crest."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.sin(2 * np.pi * (RATE / 4) * t + np.pi / 4) / np.sqrt(0.5)
    wave = np.clip(wave, -1.0, 1.0) * 0.999
    return np.repeat(wave.astype(np.float32)[:, None], 2, axis=1)


def clipped_noise(seconds: float, seed: int = 5) -> np.ndarray:
    """Noise under 12 kHz driven 12 dB into a hard clip at full scale: samples at 0.999,
    the wave between them well above, near Nyquist where short filters cut it."""
    rng = np.random.default_rng(seed)
    sos = butter(8, 12000, fs=RATE, output="sos")
    wave = sosfilt(sos, rng.standard_normal((int(seconds * RATE), 2)), axis=0)
    return (np.clip(wave / np.abs(wave).max() * 4, -1, 1) * 0.999).astype(np.float32)


def resample_poly_envelope(samples: np.ndarray) -> np.ndarray:
    """What the meter computed before: scipy's 4x resample_poly, the max per frame."""
    over = np.abs(resample_poly(samples.astype(np.float64), 4, 1, axis=0))
    return np.asarray(over[: len(samples) * 4].reshape(len(samples), 4, -1).max(axis=(1, 2)))


@pytest.mark.parametrize("signal", ["quarter rate", "clipped noise"])
def test_true_peak_envelope_reads_what_resample_poly_reads(signal: str) -> None:
    audio = overshooting(0.5) if signal == "quarter rate" else clipped_noise(1.0)
    # A stretch of silence and a quiet stretch: the envelope must follow the level.
    audio = np.concatenate([audio, np.zeros((RATE // 4, 2), np.float32), audio * 0.1])
    ours, theirs = true_peak_envelope(audio), resample_poly_envelope(audio)
    assert 20 * np.log10(ours.max() / np.abs(audio).max()) > 2.0  # it does overshoot
    loud = theirs > 1e-4
    assert not (ours[~loud] > 1e-4).any()
    np.testing.assert_allclose(20 * np.log10(ours[loud] / theirs[loud]), 0.0, atol=0.1)


def test_true_peak_envelope_skips_only_what_cannot_reach_the_floor() -> None:
    audio = clipped_noise(1.0)
    audio[RATE // 2 :] *= np.float32(0.01)  # a quiet half, 40 dB down
    full = true_peak_envelope(audio)
    floor = 0.5
    skipping = true_peak_envelope(audio, floor=floor)
    at_or_over = full >= floor
    assert at_or_over.any()
    np.testing.assert_array_equal(skipping[at_or_over], full[at_or_over])
    assert (skipping[~at_or_over] < floor).all()
    # The quiet half was not interpolated: it reads its sample peaks.
    quiet = slice(RATE // 2 + RATE // 10, None)
    np.testing.assert_array_equal(skipping[quiet], frame_peaks(audio[quiet]))
    assert (full[quiet] > skipping[quiet]).any()


def synth_music(seconds: float) -> np.ndarray:
    request = GenerationRequest("rock", "Rock", "rock", seed=3, seconds=seconds)
    generated = SynthGenerator().generate([request])[0]
    assert generated.sample_rate == RATE
    return np.asarray(generated.samples, dtype=np.float32)


@pytest.mark.parametrize("signal", ["music", "noise with a quiet passage"])
def test_integrated_loudness_agrees_with_pyloudnorm(signal: str) -> None:
    if signal == "music":
        audio = synth_music(12.0)
    else:
        audio = noise(12.0, 0.1)
        audio[3 * RATE : 8 * RATE] *= np.float32(0.03)  # 30 dB down: the relative gate
    ours = integrated_loudness(audio, RATE)
    theirs = pyloudnorm.Meter(RATE).integrated_loudness(audio.astype(np.float64))
    assert ours == pytest.approx(theirs, abs=0.1)


def test_the_limiter_holds_the_true_peak_not_just_the_samples() -> None:
    loud = overshooting()
    assert np.abs(loud).max() > 0.99 and true_peak_dbtp(loud) > 2.0
    limited = limit_peaks(loud, RATE)
    assert true_peak_dbtp(limited) <= PEAK_DBTP + 0.05
    # Only the excess goes: the samples end up about 3 dB under the ceiling, not lower.
    assert 20 * np.log10(np.abs(limited).max()) > PEAK_DBTP - 3.5


@pytest.mark.parametrize("level", [0.01, 0.1, 0.5])
def test_normalize_hits_minus_14_lufs_under_the_true_peak_ceiling(level: float) -> None:
    audio = noise(10.0, level)
    audio[RATE : RATE + 200] *= 8  # a transient the limiter must catch
    audio[2 * RATE : 3 * RATE] += overshooting(1.0) * np.float32(level * 4)
    out, lufs = normalize(audio, RATE)
    assert lufs == pytest.approx(-14.0, abs=0.2)
    assert integrated_loudness(out, RATE) == pytest.approx(lufs, abs=0.01)
    assert true_peak_dbtp(out) <= PEAK_DBTP + 0.05


def test_normalize_refuses_to_amplify_near_silence() -> None:
    with pytest.raises(AudioError, match="near-silent"):
        normalize(noise(5.0, 1e-5), RATE)


def test_equal_power_crossfade_keeps_power_constant() -> None:
    fade_out, fade_in = equal_power_gains(0, 1000, 1000)
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0, rtol=1e-5)
    assert fade_out[0] > 0.99 and fade_in[-1] > 0.99
    # Rendering in two pieces equals rendering at once (playout renders in chunks).
    a, b = noise(0.1, seed=1), noise(0.1, seed=2)
    whole = crossfade(a, b)
    half = len(a) // 2
    pieces = np.concatenate(
        [crossfade(a[:half], b[:half], 0, len(a)), crossfade(a[half:], b[half:], half, len(a))]
    )
    np.testing.assert_allclose(whole, pieces, atol=1e-6)


def test_a_crossfade_is_held_near_the_tracks_level_where_both_ends_thin_out() -> None:
    # Two ends at the level every track is normalised to, both resting for the same 1.5 s
    # in the middle of the overlap (a rest in an intro against a chord left to ring):
    # equal power puts each 3 dB down there, on top of the rest.
    gain = np.float32(10 ** ((TARGET_LUFS - integrated_loudness(noise(3.0), RATE)) / 20))
    out_end, in_end = noise(3.0, seed=1) * gain, noise(3.0, seed=2) * gain
    rest = slice(int(0.75 * RATE), int(2.25 * RATE))
    out_end[rest] *= np.float32(10 ** (-6 / 20))
    in_end[rest] *= np.float32(10 ** (-12 / 20))
    mixed, blended = crossfade(out_end, in_end), blend(out_end, in_end, RATE)
    plain, held = momentary_loudness(mixed, RATE), momentary_loudness(blended, RATE)
    inside = slice(9, 17)  # momentary blocks wholly inside the rest, not at its edges
    assert plain[inside].max() < TARGET_LUFS - 6.5
    assert held[inside].min() > TARGET_LUFS - BLEND_TOLERANCE_LU - 2.0  # ridden up
    assert held.max() < TARGET_LUFS + 1.0  # never above the tracks' level
    # Where the ends play at full level the crossfade is left as mixed.
    np.testing.assert_allclose(blended[: RATE // 4], mixed[: RATE // 4], rtol=1e-5, atol=1e-6)


def test_resample_32k_mono_to_playout_format() -> None:
    t = np.arange(32000 * 2) / 32000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[:, None]
    out = to_playout(tone, 32000)
    assert out.shape == (88200, 2) and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out[:RATE, 0]))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=1)  # 1 Hz bins over one second
    assert len(resample(tone, 32000, 16000)) == 32000


def test_a_crossfade_of_two_full_level_ends_is_held_under_the_true_peak_ceiling() -> None:
    t = np.arange(3 * RATE) / RATE
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)[:, None].repeat(2, axis=1)
    # In phase, both at the level every prepared track is limited to: the worst case.
    loud = tone * np.float32(10 ** (PEAK_DBTP / 20))
    assert true_peak_dbtp(crossfade(loud, loud)) > PEAK_DBTP + 2.5  # cos + sin: up to 3 dB
    assert true_peak_dbtp(blend(loud, loud, RATE)) <= PEAK_DBTP + 0.01
    # Ends whose sum stays under the ceiling are crossfaded untouched.
    soft = tone * np.float32(0.3)
    assert np.array_equal(blend(soft, soft, RATE), crossfade(soft, soft))
