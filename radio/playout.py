"""Backlog tracks in, a wall-clock-paced MP3 stream into the station's broadcast out.

One loop per station: every CHUNK_SECONDS it renders exactly the audio that the
wall clock says is due (plus a small lead), crossfading between tracks, encodes
it once and publishes it. Decoding, mixing and encoding run on a worker thread,
in one job with every other station's on the same tick (radio.ticks); the loop
itself only schedules. When the backlog is empty the backlog replays catalog
tracks; with no track at all yet it sends encoded silence, so the mount never
stalls and listeners stay connected while the first track is prepared.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import numpy as np
import soundfile

from radio.audio import PLAYOUT_CHANNELS, PLAYOUT_RATE, Samples
from radio.audio.crossfade import blend
from radio.backlog import Backlog
from radio.broadcast import Broadcast
from radio.catalog import Catalog, CatalogWriter
from radio.encoder import Mp3Encoder
from radio.hls import HlsStream
from radio.lineup.stations import Station
from radio.logs import Warnings
from radio.opus import Chain, OpusEncoder, StreamTags
from radio.ticks import Ticks
from radio.tracks import Track

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK_SECONDS = 0.25
LEAD_SECONDS = 0.5  # rendered ahead of the wall clock, so a busy loop never underruns
FETCH_AHEAD_SECONDS = 8.0  # open the next track this long before the crossfade starts
REPLAY_AT_SECONDS = 1.0  # fall back to a replay this long before the crossfade
MAX_CATCH_UP_SECONDS = 5.0  # after a long stall, skip rather than flood listeners
LATE_SECONDS = 0.1  # behind the wall clock by this much, listeners may hear a gap
# The Opus mount is encoded on demand, as Icecast runs an on-demand relay: from its first
# listener until this long after its last, so a player that reconnects finds its burst.
# An idle server then pays for the MP3 encoders only (Opus cost as much again, #8).
OPUS_LINGER_SECONDS = 60.0


class Pacing:
    """The wall clock a station's stream is paced by: where it began and how much is sent.

    Kept apart from the loop so a restarted playout carries on at the same pace
    instead of bursting a fresh lead at its listeners."""

    def __init__(self, clock: float) -> None:
        self.clock = clock
        self.sent = 0  # frames published since `clock`

    def due(self, now: float) -> int:
        """Frames the wall clock says are due, with the lead, and not yet sent."""
        return int((now - self.clock + LEAD_SECONDS) * PLAYOUT_RATE) - self.sent

    def late(self, now: float) -> float:
        """Seconds the stream has fallen behind the wall clock (0 while the lead lasts)."""
        return max(0.0, now - self.clock - self.sent / PLAYOUT_RATE)

    def restart(self, now: float) -> None:
        self.clock, self.sent = now, 0


class TrackReader:
    """A cached track read block by block; lives on the playout worker thread."""

    def __init__(self, track: Track) -> None:
        self.track = track
        self._file = soundfile.SoundFile(track.path)
        self.frames: int = int(self._file.frames)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return self.frames - self.pos

    def read(self, count: int) -> Samples:
        block: Samples = self._file.read(count, dtype="float32", always_2d=True)
        self.pos += len(block)
        if len(block) < count:  # a short file: pad rather than fail mid-stream
            block = np.concatenate(
                [block, np.zeros((count - len(block), PLAYOUT_CHANNELS), np.float32)]
            )
            self.pos = self.frames
        if block.shape[1] != PLAYOUT_CHANNELS:
            block = np.repeat(block[:, :1], PLAYOUT_CHANNELS, axis=1)
        return block

    def close(self) -> None:
        self._file.close()


class Mixer:
    """Current track, next track and the crossfade between them; renders N frames at a time."""

    def __init__(self, crossfade_seconds: float) -> None:
        self.crossfade_frames = int(crossfade_seconds * PLAYOUT_RATE)
        self.current: TrackReader | None = None
        self.next: TrackReader | None = None
        self._overlap = 0  # frames of the transition to `next`, fixed when it is queued
        # What is left of the crossfade under way, made whole when it begins (so it
        # can be limited as one piece) and rendered from here; `next` is already
        # `current` then.
        self._blend: Samples | None = None
        # Silence rendered for want of a track once one has played (before the first,
        # the station is still starting): what /metrics reports as dead air.
        self.dead_air_frames = 0
        self._played = False

    def queue(self, reader: TrackReader) -> None:
        cur = self.current
        self.next = reader
        limit = min(cur.remaining, cur.frames // 2) if cur else 0
        self._overlap = max(0, min(self.crossfade_frames, limit, reader.frames // 2))

    def unqueue(self) -> Track | None:
        """Take back the next track if its crossfade has not begun; returns it."""
        if self.next is None:  # none queued, or its crossfade has begun
            return None
        reader, self.next = self.next, None
        reader.close()
        return reader.track

    def cut_short(self) -> None:
        """End the current track after one crossfade starting now (an operator's skip)."""
        if self.current and self.next:
            self.current.frames = min(self.current.frames, self.current.pos + self._overlap)

    @property
    def seconds_left(self) -> float:
        """Seconds of the current track still to render, 0 if none."""
        return self.current.remaining / PLAYOUT_RATE if self.current else 0.0

    def render(self, count: int) -> tuple[Samples, list[tuple[int, Track]]]:
        """`count` frames of audio, and (frame index, track) for each track that starts in them."""
        out = np.zeros((count, PLAYOUT_CHANNELS), np.float32)
        starts: list[tuple[int, Track]] = []
        i = 0
        while i < count:
            if self._blend is not None:
                k = min(count - i, len(self._blend))
                out[i : i + k] = self._blend[:k]
                self._blend = self._blend[k:] if k < len(self._blend) else None
                i += k
                continue
            cur = self.current
            if cur is None:
                if self.next is None:
                    self.dead_air_frames += (count - i) if self._played else 0
                    break  # nothing to play: the rest stays silent
                self.current, self.next = self.next, None
                self._played = True
                starts.append((i, self.current.track))
                continue
            if cur.remaining == 0:
                cur.close()
                self.current = None  # the next track, if any, starts without a fade
                continue
            nxt = self.next
            fade_at = cur.frames - self._overlap
            if nxt is None or cur.pos < fade_at:
                stop = cur.frames if nxt is None else fade_at
                k = min(count - i, stop - cur.pos)
                out[i : i + k] = cur.read(k)
                i += k
                continue
            # The crossfade begins: a few seconds of each, mixed and limited at once.
            starts.append((i, nxt.track))
            overlap = cur.remaining
            self._blend = blend(cur.read(overlap), nxt.read(overlap), PLAYOUT_RATE)
            cur.close()
            self.current, self.next = nxt, None
        return out, starts

    def close(self) -> None:
        for reader in (self.current, self.next):
            if reader:
                reader.close()


@dataclass
class NowPlaying:
    track: Track
    started: float  # wall-clock epoch seconds when its first audio was published
    offset: int = 0  # stream byte where its audio begins (its ICY mark)
    play: asyncio.Task[int | None] | None = None  # the play row being written


@dataclass
class Rendered:
    """One render's output, made on the worker thread and published on the loop."""

    mp3: bytes
    marks: list[tuple[int, Track]]  # (byte in mp3, track) for each track that begins
    opus: bytes = b""
    chains: list[Chain] = field(default_factory=list)
    given_back: Track | None = None


class Playout:
    def __init__(
        self,
        station: Station,
        backlog: Backlog,
        catalog: CatalogWriter,
        broadcast: Broadcast,
        on_start: Callable[[], None] = lambda: None,
        pacing: Pacing | None = None,
        opus_broadcast: Broadcast | None = None,
        hls: HlsStream | None = None,
        ticks: Ticks | None = None,
    ) -> None:
        self.station = station
        self.ticks = ticks or Ticks(CHUNK_SECONDS)  # shared by every station of a radio
        self.hls = hls  # cut into HLS segments from the same MP3, no second encoder
        self.backlog = backlog
        self.catalog = catalog
        self.broadcast = broadcast
        self.encoder: Mp3Encoder[Track] = Mp3Encoder(station.bitrate)
        # The second format, fed the same rendered audio; None: no Opus mount.
        self.opus_broadcast = opus_broadcast
        self.opus_encoder: OpusEncoder | None = None  # None while nobody listens to it
        self._opus_tags: StreamTags | None = None  # the track on air, for a new chain
        self._opus_heard = -OPUS_LINGER_SECONDS  # loop time the Opus mount last had a listener
        self.mixer = Mixer(station.crossfade_seconds)
        self.on_start = on_start  # told as each track's first audio is published
        self.now: NowPlaying | None = None
        self.started_at = time.time()
        self.skip_requested = False
        self._opening: Track | None = None  # taken from the backlog, not yet in the mixer
        self._unqueue_requested = False
        self._mixing = threading.Lock()  # held by the worker thread while it renders
        self.pacing = pacing  # None until the loop starts; a restart is handed the last one
        # How far the stream is behind the wall clock (0 while the lead lasts): the
        # last value and the worst seen, for /metrics.
        self.lateness_seconds = 0.0
        self.worst_lateness_seconds = 0.0
        self.warnings = Warnings(log, prefix=f"{station.id}: ")
        self._writes: set[asyncio.Task[int | None]] = set()
        self._fetching: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def artist(self) -> str:
        return self.station.name

    def stream_title(self, track: Track) -> str:
        return f"{self.artist} - {track.title}"

    @property
    def listeners(self) -> int:
        """Listeners of every format the station plays out in."""
        mounts = (self.broadcast, self.opus_broadcast)
        return sum(len(mount.listeners) for mount in mounts if mount is not None)

    @property
    def up_next(self) -> Track | None:
        return self.mixer.next.track if self.mixer.next else self.backlog.peek(self.station.id)

    @property
    def seconds_left(self) -> float:
        """Fresh audio still to play from tracks already taken from the backlog; a replay
        is not backlog, so a station that replays keeps asking for new tracks."""
        readers = [r for r in (self.mixer.current, self.mixer.next) if r and not r.track.replay]
        opening = self._opening.duration if self._opening and not self._opening.replay else 0.0
        return sum(r.remaining for r in readers) / PLAYOUT_RATE + opening

    @property
    def dead_air_seconds(self) -> float:
        return self.mixer.dead_air_frames / PLAYOUT_RATE

    @property
    def holding(self) -> list[Track]:
        """Tracks taken from the backlog whose audio must stay on disk: on air, queued, opening."""
        readers = (self.mixer.current, self.mixer.next)
        held = [reader.track for reader in readers if reader is not None]
        return [*held, self._opening] if self._opening else held

    def retune(self, station: Station) -> None:
        """Take an edited station: artist name, crossfade and bitrate apply from now on
        (the Opus bitrate from the next track)."""
        if station.bitrate != self.station.bitrate:
            self.encoder.change_bitrate(station.bitrate)
        if self.opus_encoder is not None:
            self.opus_encoder.bitrate = station.opus_bitrate  # from the next track on
        self.mixer.crossfade_frames = int(station.crossfade_seconds * PLAYOUT_RATE)
        self.station = station

    def unqueue(self) -> None:
        """Give back the track queued for the next crossfade, if it has not started
        (an operator's "apply now": the new sound must arrive within one track)."""
        self._unqueue_requested = True

    def skip(self) -> None:
        """Cut to the next track with a crossfade starting now."""
        self.skip_requested = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        pacing = self.pacing = self.pacing or Pacing(loop.time())
        try:
            while True:
                # The next track is found and opened beside the stream: a catalog or disk
                # that answers slowly costs the next track, never the audio due now.
                idle = self._fetching is None or self._fetching.done()
                if idle and self._wants_next():
                    self._fetching = asyncio.create_task(self._fetch_next())
                now = loop.time()
                due = pacing.due(now)
                if due > MAX_CATCH_UP_SECONDS * PLAYOUT_RATE:
                    log.warning(
                        "%s: playout stalled; skipping %.1f s", self.station.id, due / PLAYOUT_RATE
                    )
                    pacing.restart(now)
                    due = int(LEAD_SECONDS * PLAYOUT_RATE)
                late = self.lateness_seconds = pacing.late(now)
                self.worst_lateness_seconds = max(self.worst_lateness_seconds, late)
                if late > LATE_SECONDS:
                    # Listeners have had nothing new for `late` seconds: say so, once.
                    self.warnings.warn("late", "playout %.2f s late (the lead is gone)", late)
                if due > 0:
                    opus = self._opus_wanted(now)
                    out = await self.ticks.render(partial(self._render_encoded, due, opus))
                    base = self.broadcast.head
                    titles = [(i, self.stream_title(t)) for i, t in out.marks]
                    self._publish(out.mp3, titles)
                    self._publish_opus(out.opus, out.chains if opus else None, titles)
                    # The epoch second this chunk's first sample is due on the station's clock.
                    due_at = time.time() + pacing.clock + pacing.sent / PLAYOUT_RATE - loop.time()
                    self._publish_hls(out.mp3, titles, due_at)
                    pacing.sent += due
                    for index, track in out.marks:  # a mark is the byte where its track begins
                        self._on_air(track, base + index)
                    if out.given_back is not None:
                        discard = partial(Catalog.discard, track_ids=[out.given_back.id])
                        self._write("discard", discard)
                await self.ticks.next()
        finally:
            # A cancelled await leaves its render running on the worker thread: close
            # the files under the same lock, never under its feet.
            if self._fetching is not None:
                self._fetching.cancel()
            await asyncio.to_thread(self._close_mixer)
            self._end_play()
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _publish(self, data: bytes, marks: list[tuple[int, str]]) -> None:
        """Hand the chunk to the broadcast; a failing output costs that chunk, not the clock."""
        try:
            self.broadcast.publish(data, marks)
        except Exception as exc:  # the station stays on air whatever one output does
            self.warnings.warn("output", "output failed, chunk dropped: %r", exc)

    def _opus_wanted(self, now: float) -> bool:
        """Whether this render feeds the Opus mount. When it stops, what the mount holds
        goes too: a listener who comes later must not be sent a burst of stale audio."""
        mount = self.opus_broadcast
        if mount is None:
            return False
        if mount.listeners:
            self._opus_heard = now
        wanted = now - self._opus_heard < OPUS_LINGER_SECONDS
        if not wanted and self.opus_encoder is not None:
            mount.drop_burst()
        return wanted

    def _publish_opus(
        self, data: bytes, chains: list[Chain] | None, titles: list[tuple[int, str]]
    ) -> None:
        """`chains` None: the mount is idle, and is only told the titles, so that its
        status still names the track on air."""
        if self.opus_broadcast is None:
            return
        if chains is None:
            marks, headers = [(0, title) for _, title in titles], []
        else:
            # A chain before the first track has no title, as the MP3 mount has none then.
            marks = [(c.index, f"{c.tags.artist} - {c.tags.title}") for c in chains if c.tags]
            headers = [(c.index, c.headers) for c in chains]
        try:
            self.opus_broadcast.publish(data, marks, headers)
        except Exception as exc:
            self.warnings.warn("opus output", "Opus output failed, chunk dropped: %r", exc)

    def _publish_hls(self, data: bytes, titles: list[tuple[int, str]], due_at: float) -> None:
        if self.hls is None:
            return
        try:
            self.hls.feed(data, titles, due_at)
        except Exception as exc:  # HLS loses a chunk; the mount and the clock carry on
            self.warnings.warn("hls", "HLS failed, chunk dropped: %r", exc)

    def _close_mixer(self) -> None:
        with self._mixing:
            self._closed = True
            self.mixer.close()

    def _queue(self, reader: TrackReader) -> None:
        """Worker thread: hand an opened track to the mixer, never under a render's feet."""
        with self._mixing:
            if self._closed:  # stopped while it opened
                reader.close()
            else:
                self.mixer.queue(reader)

    def _render_encoded(self, frames: int, opus: bool = False) -> Rendered:
        """Worker thread: mix and encode into each format (Opus when `opus`), with a
        track given back.

        Operator requests are applied here, between renders, so the mixer is only
        ever touched by this thread while a render could be running."""
        with self._mixing:
            return self._render_locked(frames, opus)

    def _render_locked(self, frames: int, opus: bool) -> Rendered:
        given_back = None
        if self._unqueue_requested:
            self._unqueue_requested = False
            given_back = self.mixer.unqueue()
        if self.skip_requested and self.mixer.next:
            self.skip_requested = False
            self.mixer.cut_short()
        samples, starts = self.mixer.render(frames)
        # A start's mark is the first MP3 frame holding its audio; the encoder holds
        # samples back, so it may come out of a later render than the start did.
        data, marks = self.encoder.encode(samples, starts)
        out = Rendered(data, marks, given_back=given_back)
        tagged = [(i, StreamTags(track.title, self.artist)) for i, track in starts]
        if opus:
            out.opus, out.chains = self._encode_opus(samples, tagged)
        else:
            self.opus_encoder = None
        if tagged:
            self._opus_tags = tagged[-1][1]
        return out

    def _encode_opus(
        self, samples: Samples, tagged: list[tuple[int, StreamTags]]
    ) -> tuple[bytes, list[Chain]]:
        """Worker thread: the Opus stream's share of a render. An encoder starts as a
        new chain (headers, then the track on air) that a listener decodes straight on:
        so does the first after an idle spell, and the one that replaces a failing
        encoder, which costs this chunk of the Opus mount only."""
        if self.opus_encoder is None:
            self.opus_encoder = OpusEncoder(self.station.opus_bitrate, self._opus_tags)
        try:
            return self.opus_encoder.encode(samples, tagged)
        except Exception as exc:
            self.warnings.warn("opus", "Opus encoder failed, restarted: %r", exc)
            self.opus_encoder = None
            return b"", []

    def _wants_next(self) -> bool:
        """Whether it is time to take the next track from the backlog and open it."""
        if self.mixer.next is not None:
            return False
        # A fresh track is queued well ahead; a replay only at the last moment, so a
        # track still being generated (after "apply now", say) gets every chance.
        fresh = self.backlog.peek(self.station.id) is not None
        ahead = FETCH_AHEAD_SECONDS if fresh else REPLAY_AT_SECONDS
        lead = self.station.crossfade_seconds + ahead
        return self.mixer.current is None or self.mixer.seconds_left <= lead or self.skip_requested

    async def _fetch_next(self) -> None:
        playing = (self.mixer.current.track.id,) if self.mixer.current else ()
        track = await self.backlog.next_track(self.station.id, playing)
        if track is None:
            self.skip_requested = False
            return
        self._opening = track
        try:
            reader = await asyncio.to_thread(TrackReader, track)
            await asyncio.to_thread(self._queue, reader)
        except (OSError, RuntimeError) as exc:  # soundfile raises RuntimeError subclasses
            self.warnings.warn("open", "cannot open track %d (%s): %s", track.id, track.path, exc)
        finally:
            self._opening = None  # held (for retention) until the mixer has it

    def _on_air(self, track: Track, offset: int) -> None:
        self._end_play()
        self.now = NowPlaying(track=track, started=time.time(), offset=offset)
        self.on_start()
        listeners, station = self.listeners, self.station.id
        self.now.play = self._write(
            "start play", lambda c: c.start_play(track.id, station, listeners)
        )
        log.info("%s: on air: %s", self.station.id, self.stream_title(track))

    def _end_play(self) -> None:
        if self.now is None or self.now.play is None:
            return
        play, listeners = self.now.play, self.listeners
        self.now.play = None

        async def end(catalog: CatalogWriter) -> int | None:
            play_id = await play
            if play_id is not None:
                await catalog.run(lambda c: c.end_play(play_id, listeners))
            return play_id

        self._track(self._guarded("end play", end(self.catalog)))

    def _write(self, what: str, call: Callable[[Catalog], T]) -> asyncio.Task[int | None]:
        """A catalog write beside the stream: the loop never waits on it, and a write that
        fails (a full disk, say) is a warning, never a stopped or restarted station."""

        async def write(catalog: CatalogWriter) -> int | None:
            result = await catalog.run(call)
            return result if isinstance(result, int) else None

        return self._track(self._guarded(what, write(self.catalog)))

    async def _guarded(self, what: str, write: Coroutine[None, None, int | None]) -> int | None:
        try:
            return await write
        except Exception as exc:
            self.warnings.warn(f"catalog {what}", "catalog %s failed: %s", what, exc)
            return None

    def _track(self, work: Coroutine[None, None, int | None]) -> asyncio.Task[int | None]:
        task = asyncio.create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task
