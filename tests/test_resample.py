"""MusicGen's 32 kHz mono to the playout's 44.1 kHz stereo: rate, length, and a
resampler that neither aliases nor images (what a naive interpolator gets wrong)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from radio.audio.resample import resample, to_channels, to_playout

MUSICGEN_RATE = 32000
PLAYOUT_RATE = 44100


def tone(hz: float, rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def level_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-20))


def band_db(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    """Energy between `low` and `high` Hz, in dB relative to the whole signal."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = spectrum[(freqs >= low) & (freqs <= high)].sum()
    return float(10 * np.log10(band / spectrum.sum() + 1e-30))


@pytest.mark.parametrize("seconds", [1.0, 2.5, 0.123, 30.0])
def test_musicgen_output_becomes_playout_rate_stereo_of_the_same_duration(seconds: float) -> None:
    mono = tone(440, MUSICGEN_RATE, seconds)
    out = to_playout(mono, MUSICGEN_RATE)
    assert out.dtype == np.float32 and out.shape[1] == 2
    assert len(out) == math.ceil(len(mono) * 441 / 320)  # 44100/32000 exactly
    assert abs(len(out) / PLAYOUT_RATE - seconds) < 1 / MUSICGEN_RATE
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


@pytest.mark.parametrize("hz", [100.0, 1000.0, 12000.0])
def test_passband_tones_keep_their_pitch_and_level(hz: float) -> None:
    out = resample(tone(hz, MUSICGEN_RATE, 2.0), MUSICGEN_RATE)[:, 0]
    middle = out[PLAYOUT_RATE // 2 : PLAYOUT_RATE // 2 + PLAYOUT_RATE]  # away from filter edges
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.argmax(spectrum) == pytest.approx(hz, abs=1)  # 1 Hz bins over one second
    assert level_db(middle) == pytest.approx(level_db(tone(hz, MUSICGEN_RATE)), abs=0.1)


def test_upsampling_leaves_no_images_above_the_source_band() -> None:
    # A 12 kHz tone at 32 kHz has a mirror image at 20 kHz if the interpolation
    # filter is poor (linear interpolation leaves it at about -9 dB).
    out = resample(tone(12000, MUSICGEN_RATE), MUSICGEN_RATE)[:, 0]
    assert band_db(out, PLAYOUT_RATE, 16500, 22050) < -60


def test_downsampling_filters_what_the_new_rate_cannot_hold() -> None:
    # 30 kHz fits at 96 kHz but not at 44.1 kHz: unfiltered, it would fold to 14.1 kHz.
    high = tone(30000, 96000)
    assert level_db(resample(high, 96000)) < level_db(high) - 50


def test_stereo_channels_are_resampled_independently() -> None:
    left, right = tone(300, MUSICGEN_RATE), tone(5000, MUSICGEN_RATE)
    out = resample(np.hstack([left, right]), MUSICGEN_RATE)
    np.testing.assert_allclose(out[:, 0], resample(left, MUSICGEN_RATE)[:, 0], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], resample(right, MUSICGEN_RATE)[:, 0], atol=1e-6)


def test_channel_layouts() -> None:
    mono = tone(440, PLAYOUT_RATE, 0.1)
    assert to_channels(mono).shape == (len(mono), 2)
    wide = np.hstack([mono, -mono, mono])
    np.testing.assert_allclose(to_channels(wide)[:, 0], mono[:, 0] / 3, atol=1e-7)
    same = tone(440, PLAYOUT_RATE, 0.1, channels=2)
    assert to_playout(same, PLAYOUT_RATE) is same  # already in playout format: untouched


def test_the_top_of_musicgen_band_survives_without_images() -> None:
    # MusicGen's codec has content up to about 15 kHz: keep it, and keep its mirror
    # images (17-18 kHz at 44.1 kHz) inaudible.
    for hz in (14000.0, 15000.0):
        out = resample(tone(hz, MUSICGEN_RATE, 2.0), MUSICGEN_RATE)[:, 0]
        middle = out[PLAYOUT_RATE // 2 : PLAYOUT_RATE // 2 + PLAYOUT_RATE]
        assert level_db(middle) == pytest.approx(level_db(tone(hz, MUSICGEN_RATE)), abs=1.5)
        assert band_db(middle, PLAYOUT_RATE, 16500, 22050) < -90
