from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from radio.audio.loudness import PEAK_DBTP, integrated_loudness
from radio.audio.meter import true_peak_dbtp
from radio.generators import GenerationRequest
from radio.generators.synth import SynthGenerator
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import load_stations
from radio.prepare import new_track, prepare_audio, write_cache
from tests.dummies import ToneGenerator
from tests.support import REPO


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


def test_a_pool_value_never_hides_what_the_generator_recorded() -> None:
    # Classical's and opera's pools have a `form` (adagio, aria...), and the synth
    # records its section plan as `form` (#9): the catalog keeps both.
    made = replace(generated(), parameters={"form": "intro:2 A:8 outro:2", "hz": 300.0})
    made = replace(made, request=replace(made.request, params={"form": "adagio", "mood": "warm"}))
    prepared = prepare_audio(made)
    row = new_track(made, prepared, "jazz/x.flac", "Adagio", "synth", "synth-v1")
    assert row.parameters["form"] == "intro:2 A:8 outro:2"
    assert row.parameters["prompt_form"] == "adagio" and row.parameters["mood"] == "warm"
    assert row.parameters["hz"] == 300.0 and row.parameters["seconds_requested"] == 3.0


@pytest.mark.parametrize("station_id", ["classical", "opera"])
def test_the_synth_section_plan_reaches_the_catalog_row(station_id: str) -> None:
    station = next(s for s in load_stations(REPO / "stations.toml").stations if s.id == station_id)
    prompt = concrete_prompt(station, 5)
    request = GenerationRequest(station.id, station.genre, prompt.text, 5, 8.0, prompt.params)
    made = SynthGenerator().generate([request])[0]
    row = new_track(made, prepare_audio(made), "x.flac", prompt.title, "synth", "synth-v1")
    assert row.parameters["form"] == made.parameters["form"]  # "intro:2 A:8 ..."
    assert ":" in str(row.parameters["form"])
    assert row.parameters["prompt_form"] == prompt.params["form"]
