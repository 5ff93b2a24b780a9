from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radio.audio import PLAYOUT_RATE
from radio.generators import GenerationRequest
from radio.playout import Mixer, TrackReader
from radio.prepare import prepare_audio, write_cache
from radio.tracks import Track
from tests.dummies import ToneGenerator, tone_hz
from tests.support import dominant_hz


def make_track(tmp_path: Path, seed: int, seconds: float = 2.0) -> Track:
    request = GenerationRequest("jazz", "Jazz", "p", seed, seconds)
    prepared = prepare_audio(ToneGenerator().generate([request])[0])
    path = tmp_path / write_cache(prepared, tmp_path, "jazz")
    return Track(seed, "jazz", f"tone {seed}", path, prepared.duration)


def test_mixer_crossfades_and_marks_where_the_next_track_starts(tmp_path: Path) -> None:
    a, b = make_track(tmp_path, 100), make_track(tmp_path, 900)
    mixer = Mixer(crossfade_seconds=0.5)
    mixer.queue(TrackReader(a))
    rendered, starts = [], []
    offset = 0
    for n in range(40):  # render in 0.1 s pieces, as playout does
        if n == 1:
            mixer.queue(TrackReader(b))  # queued while a plays, as playout does
        audio, marks = mixer.render(4410)
        starts += [(offset + i, t.id) for i, t in marks]
        rendered.append(audio)
        offset += len(audio)
    audio = np.concatenate(rendered)
    fade_start = round(a.duration * PLAYOUT_RATE) - int(0.5 * PLAYOUT_RATE)
    assert starts == [(0, a.id), (fade_start, b.id)]
    assert dominant_hz(audio[4410:8820]) == pytest.approx(tone_hz(100), abs=15)
    after = fade_start + int(0.5 * PLAYOUT_RATE)
    assert dominant_hz(audio[after : after + 4410]) == pytest.approx(tone_hz(900), abs=15)
    # No click: the largest sample step stays that of a clean tone at this level.
    steps = np.abs(np.diff(audio[:, 0]))
    assert steps.max() < 0.2
    # Once both tracks are done the mixer renders silence, not an error.
    end = round((a.duration + b.duration - 0.5) * PLAYOUT_RATE)
    assert np.abs(audio[end + 10 :]).max() == 0.0


def test_cut_short_starts_the_crossfade_now(tmp_path: Path) -> None:
    a, b = make_track(tmp_path, 100, seconds=6.0), make_track(tmp_path, 900)
    mixer = Mixer(crossfade_seconds=0.5)
    mixer.queue(TrackReader(a))
    mixer.render(4410)  # a is on air
    mixer.queue(TrackReader(b))
    mixer.cut_short()
    _, starts = mixer.render(4410)
    assert [t.id for _, t in starts] == [b.id]
    audio, _ = mixer.render(PLAYOUT_RATE)
    assert dominant_hz(audio[-4410:]) == pytest.approx(tone_hz(900), abs=15)


def test_unqueue_gives_back_the_next_track_until_its_crossfade_starts(tmp_path: Path) -> None:
    a, b = make_track(tmp_path, 100), make_track(tmp_path, 900)
    mixer = Mixer(crossfade_seconds=0.5)
    mixer.queue(TrackReader(a))
    mixer.render(4410)
    mixer.queue(TrackReader(b))
    assert mixer.unqueue() == b and mixer.next is None
    mixer.queue(TrackReader(b))
    mixer.render(round((a.duration - 0.3) * PLAYOUT_RATE))  # into the crossfade
    assert mixer.unqueue() is None and mixer.next is not None


def test_dead_air_counts_silence_for_want_of_a_track_once_one_has_played(tmp_path: Path) -> None:
    a = make_track(tmp_path, 100, seconds=1.0)
    mixer = Mixer(crossfade_seconds=0.5)
    mixer.render(4410)  # starting up, nothing prepared yet: not dead air
    assert mixer.dead_air_frames == 0
    mixer.queue(TrackReader(a))
    mixer.render(PLAYOUT_RATE * 2)
    assert mixer.dead_air_frames == PLAYOUT_RATE * 2 - round(a.duration * PLAYOUT_RATE)
