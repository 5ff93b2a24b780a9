from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from radio.audio import PLAYOUT_RATE
from radio.generators import GenerationRequest
from radio.logs import Warnings
from radio.playout import LEAD_SECONDS, Mixer, Pacing, TrackReader
from radio.prepare import prepare_audio, write_cache
from radio.tracks import Track
from tests.dummies import ToneGenerator, tone_hz
from tests.support import (
    StartServer,
    dominant_hz,
    on_air,
    read_stream,
    short_lineup,
    wait_until,
)


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
    assert mixer.unqueue() is None  # b is already fading in: it plays on
    assert mixer.current is not None and mixer.current.track == b


def test_dead_air_counts_silence_for_want_of_a_track_once_one_has_played(tmp_path: Path) -> None:
    a = make_track(tmp_path, 100, seconds=1.0)
    mixer = Mixer(crossfade_seconds=0.5)
    mixer.render(4410)  # starting up, nothing prepared yet: not dead air
    assert mixer.dead_air_frames == 0
    mixer.queue(TrackReader(a))
    mixer.render(PLAYOUT_RATE * 2)
    assert mixer.dead_air_frames == PLAYOUT_RATE * 2 - round(a.duration * PLAYOUT_RATE)


async def test_a_catalog_that_fails_its_writes_never_stops_or_rushes_the_stream(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    client, radio = await start_server(short_lineup(track_seconds=2))
    await on_air(radio)
    jazz = radio.station("jazz")
    task, encoder = jazz.task, jazz.playout.encoder
    # Real SQLite refusing every write, as a full disk does ("attempt to write a readonly
    # database" here, "database or disk is full" there): no fake catalog needed.
    await radio.catalog.run(lambda c: c.db.execute("PRAGMA query_only = 1"))
    first = jazz.playout.now
    seconds = 6.0
    with caplog.at_level(logging.WARNING, logger="radio.playout"):
        data = await read_stream(str(client.make_url("/stream/jazz.mp3")), seconds)
        await wait_until(lambda: jazz.playout.now is not first, 10, "the next track on air")
    # The same loop, encoder and clock throughout: nothing restarted, so no second burst.
    assert jazz.task is task and jazz.playout.encoder is encoder
    real_time = seconds * 128_000 / 8
    assert len(data) < radio.settings.burst_bytes + real_time * 1.1
    assert len(data) > real_time * 0.8
    failed = [r.getMessage() for r in caplog.records if "catalog" in r.getMessage()]
    assert failed and len(failed) <= 3 * len(radio.on_air), failed  # once per kind, not per play


async def test_a_catalog_busy_for_seconds_at_a_track_change_costs_no_audio(
    start_server: StartServer,
) -> None:
    """Issue #10's 2.0 s gap: playout once awaited its play writes (and a replay's query) at
    each track change, so a catalog thread busy for two seconds (a slow fsync, a long query
    ahead in its queue) gave every listener of that one station a gap, with nothing logged."""
    _client, radio = await start_server(short_lineup(track_seconds=2))
    await on_air(radio)
    jazz = radio.station("jazz")
    await wait_until(lambda: len(radio.backlog.queued("jazz")) >= 3, 20, "a backlog of 3 tracks")
    release = threading.Event()
    held = asyncio.create_task(radio.catalog.run(lambda c: release.wait(10)))
    try:
        before = jazz.playout.now
        await wait_until(lambda: jazz.playout.now is not before, 10, "a track change")
        first = jazz.playout.now
        await wait_until(lambda: jazz.playout.now is not first, 10, "a second change")
        second = jazz.playout.now
        assert not held.done()  # both changes came while the catalog could answer nothing
        assert jazz.playout.worst_lateness_seconds < 1.0
    finally:
        release.set()
        await held
    # Nothing is lost: the writes queued behind the busy catalog are made once it answers.
    assert first.play is None  # handed on to its end-of-play write
    assert second.play is not None
    await wait_until(lambda: second.play.done(), 10, "the second play written")

    async def first_ended() -> bool:
        plays = await radio.catalog.run(lambda c: c.recent_plays("jazz", 10))
        return any(p.track_id == first.track.id and p.ended_at for p in plays)

    await wait_until(first_ended, 10, "the first play's end written")
    plays = await radio.catalog.run(lambda c: c.recent_plays("jazz", 10))
    assert second.play.result() in [p.play_id for p in plays if p.track_id == second.track.id]


async def test_a_restarted_playout_keeps_the_pace_of_the_one_before(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    client, radio = await start_server()
    await on_air(radio)
    jazz = radio.station("jazz")
    crashed = jazz.playout

    def render_fails(frames: int) -> None:
        raise RuntimeError("a bug in a render")

    listening = asyncio.create_task(read_stream(str(client.make_url("/stream/jazz.mp3")), 5.0))
    await wait_until(lambda: jazz.broadcast.listeners, 5, "the listener in before the crash")
    crashed._render_encoded = render_fails  # type: ignore[method-assign,assignment]
    with caplog.at_level(logging.ERROR, logger="radio.core"):
        await wait_until(lambda: jazz.playout is not crashed, 10, "the playout restarted")
        data = await listening
    assert "playout crashed; restarting" in caplog.text
    assert jazz.playout.pacing is crashed.pacing  # the same clock, not a fresh lead
    assert len(data) < radio.settings.burst_bytes + 5.0 * 128_000 / 8 * 1.1


def test_pacing_counts_lateness_only_once_the_lead_is_gone() -> None:
    pacing = Pacing(clock=100.0)
    assert pacing.due(100.0) == round(LEAD_SECONDS * PLAYOUT_RATE)
    pacing.sent = pacing.due(100.0)
    assert pacing.late(100.0 + LEAD_SECONDS) == 0.0  # the lead covers it
    assert pacing.late(100.0 + LEAD_SECONDS + 2.0) == pytest.approx(2.0)


def test_warnings_are_rate_limited_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    warnings = Warnings(logging.getLogger("radio.playout"), "jazz: ", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="radio.playout"):
        for _ in range(5):
            warnings.warn("late", "playout %.2f s late", 2.0)
        warnings.warn("output", "output failed")
        now[0] = 61.0  # a minute on: the held ones are counted, not lost
        warnings.warn("late", "playout %.2f s late", 3.0)
    assert [r.getMessage() for r in caplog.records] == [
        "jazz: playout 2.00 s late",
        "jazz: output failed",
        "jazz: playout 3.00 s late (4 more since the last warning)",
    ]
