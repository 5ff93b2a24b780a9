// Shows the title of the track the listener is hearing, not the one the server just started.
//
// Each connection to the mount names a fresh session, and the server says at which
// stream byte that connection began (`start`); each track event says at which stream
// byte the track's audio begins (`offset`). The mount is CBR MP3 and the <audio>
// element's time 0 is the connection's first byte, so the track is heard from media
// time `(offset - start) / byte_rate`, however long the browser buffers or stalls.
// The wall-clock estimate this replaces (burst + time connected - seconds behind the
// live edge) drifted seconds early whenever a busy machine stalled playback.
// A reconnect is a new session with a new start; offsets stay valid, so the tracks
// already known are simply placed again.
//
// (`audio.buffered` is no help here: Chromium reports far less than it has
// received, which put titles a whole track early on a live MP3 stream.)

import { getJSON } from "./api.js";

// The server knows the session from the moment it answers the stream request, before
// the first byte, so by `loadedmetadata` it should be there; the retries cover a slow loop.
const LOOKUP_TRIES = 10;
const LOOKUP_PAUSE_MS = 200;
const POLL_MS = 250; // `timeupdate` alone comes too seldom to switch a title on time

export class HeardClock {
  constructor(audio, show) {
    this.audio = audio;
    this.show = show;
    this.tracks = []; // {offset, track} in stream order, the one heard (if known) first
    this.placing = null; // {start, byteRate} of the current connection, once known
    this.following = false; // false: no connection to place tracks on, titles show at once
    this.connection = 0; // bumped by every connect and stop, so a late lookup is ignored
    this.hearing = null; // {offset, track} shown as heard on this connection
    this.timer = 0;
    audio.addEventListener("timeupdate", () => this.tick());
  }

  // A new connection on `sessionUrl`; `known` are the station's recent track starts,
  // oldest first, which the connection's first seconds (the burst) may still hold.
  async connected(sessionUrl, known) {
    const connection = this.stop();
    this.following = true;
    for (const { track, offset } of known) this.add(track, offset);
    if (this.audio.readyState < HTMLMediaElement.HAVE_METADATA) {
      await new Promise((resolve) =>
        this.audio.addEventListener("loadedmetadata", resolve, { once: true }),
      );
    }
    for (let tries = 0; tries < LOOKUP_TRIES; tries += 1) {
      if (connection !== this.connection) return;
      const session = await getJSON(sessionUrl).catch(() => null);
      if (connection !== this.connection) return;
      if (session) {
        this.placing = { start: session.start, byteRate: session.byte_rate };
        this.tick();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, LOOKUP_PAUSE_MS));
    }
    // No session, no exact place: the server's newest title is the best guess left.
    const newest = this.tracks.at(-1);
    this.stop();
    if (newest) this.show(newest.track);
  }

  // Not following a connection (paused, or tuning elsewhere): forget the tracks.
  stop() {
    clearTimeout(this.timer);
    this.tracks = [];
    this.placing = null;
    this.following = false;
    this.hearing = null;
    this.connection += 1;
    return this.connection;
  }

  // A track the server started at stream byte `offset`.
  started(track, offset) {
    if (!this.following) {
      this.show(track);
      return;
    }
    this.add(track, offset);
    this.tick();
  }

  // A track that was playing before any start we know of (its offset unknown).
  playedBefore(track) {
    if (!this.following) return;
    this.add(track, undefined);
    this.tick();
  }

  add(track, offset) {
    const at = offset ?? -Infinity;
    if (this.tracks.some((t) => t.offset === at)) return;
    this.tracks.push({ offset: at, track });
    this.tracks.sort((a, b) => a.offset - b.offset);
  }

  // Media time at which this connection plays stream byte `offset`.
  mediaTime(offset) {
    return (offset - this.placing.start) / this.placing.byteRate;
  }

  // The last track whose start the listener has reached is the one they hear.
  tick() {
    clearTimeout(this.timer);
    if (!this.placing) return;
    const now = this.audio.currentTime;
    let heard = -1;
    while (heard + 1 < this.tracks.length && this.mediaTime(this.tracks[heard + 1].offset) <= now) {
      heard += 1;
    }
    if (heard >= 0) {
      this.tracks.splice(0, heard);
      if (this.hearing !== this.tracks[0]) {
        this.hearing = this.tracks[0];
        this.show(this.hearing.track);
      }
    }
    const next = this.tracks[heard >= 0 ? 1 : 0];
    if (next) {
      const wait = (this.mediaTime(next.offset) - now) * 1000;
      this.timer = setTimeout(() => this.tick(), Math.min(POLL_MS, Math.max(20, wait)));
    }
  }
}
