from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from radio.audio.loudness import PEAK_DBTP, integrated_loudness
from radio.audio.meter import true_peak_dbtp
from radio.generators import GenerationRequest
from radio.prepare import prepare_audio, write_cache
from tests.dummies import ToneGenerator


def generated(seed: int = 7, seconds: float = 3.0):  # type: ignore[no-untyped-def]
    request = GenerationRequest("jazz", "Jazz", "warm jazz", seed, seconds, {"mood": "warm"})
    return ToneGenerator().generate([request])[0]


def test_prepared_audio_is_playout_format_at_target_loudness() -> None:
    prepared = prepare_audio(generated())
    assert prepared.pcm.dtype == np.int16 and prepared.pcm.shape[1] == 2
    assert prepared.duration == pytest.approx(3.0, abs=0.01)  # resampled from 32 kHz
    assert prepared.loudness == pytest.approx(-14.0, abs=0.2)
    assert true_peak_dbtp(prepared.pcm.astype(np.float32) / 32767) <= PEAK_DBTP + 0.05
    assert len(prepared.audio_hash) == 64
    assert prepare_audio(generated()).audio_hash == prepared.audio_hash
    assert prepare_audio(generated(seed=8)).audio_hash != prepared.audio_hash


def test_cache_file_is_flac_written_atomically(tmp_path: Path) -> None:
    prepared = prepare_audio(generated())
    relative = write_cache(prepared, tmp_path, "jazz")
    path = tmp_path / relative
    assert relative.startswith("jazz/") and path.suffix == ".flac"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    info = soundfile.info(path)
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 44100, 2)
    audio, rate = soundfile.read(path, dtype="int16")
    np.testing.assert_array_equal(audio, prepared.pcm)
    assert integrated_loudness(audio.astype(np.float32) / 32767, rate) == pytest.approx(
        -14, abs=0.2
    )
