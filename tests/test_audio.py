from __future__ import annotations

import numpy as np
import pytest

from radio.audio.crossfade import crossfade, equal_power_gains
from radio.audio.edges import fade_edges, trim_silence
from radio.audio.loudness import integrated_loudness, normalize
from radio.audio.resample import resample, to_playout
from radio.errors import AudioError

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


def test_fades_start_and_end_at_zero() -> None:
    faded = fade_edges(np.ones((RATE, 2), np.float32), RATE)
    assert faded[0].max() == 0.0
    assert faded[-1].max() < 0.01
    assert faded[RATE // 2].min() == 1.0


@pytest.mark.parametrize("level", [0.01, 0.1, 0.5])
def test_normalize_hits_minus_14_lufs_with_peaks_under_minus_1(level: float) -> None:
    audio = noise(10.0, level)
    audio[RATE : RATE + 200] *= 8  # a transient the limiter must catch
    out, lufs = normalize(audio, RATE)
    assert lufs == pytest.approx(-14.0, abs=0.2)
    assert integrated_loudness(out, RATE) == pytest.approx(lufs, abs=0.01)
    assert 20 * np.log10(np.abs(out).max()) <= -1.0 + 1e-4


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


def test_resample_32k_mono_to_playout_format() -> None:
    t = np.arange(32000 * 2) / 32000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[:, None]
    out = to_playout(tone, 32000)
    assert out.shape == (88200, 2) and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out[:RATE, 0]))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=1)  # 1 Hz bins over one second
    assert len(resample(tone, 32000, 16000)) == 32000
