// Shows the title of the track the listener is hearing, not the one the server just started.
//
// The server sends a new listener a burst of recent audio (`burst` seconds),
// then the live broadcast as playout publishes it, paced by the wall clock. So
// `burst + (seconds since we connected)` is how far into our stream the live
// edge is, in the <audio> element's own media time. Each "track" event says
// how far behind the live edge the new track's first byte already lies
// (`behind`, see radio/server/events.py), so the track begins at media time
// `burst + elapsed - behind` and the title changes when `currentTime` gets
// there: after the burst and the browser's start-up buffering, and later
// still if playback stalls. The byte stream is continuous, so a listener who
// falls behind and catches up keeps the mapping; a reconnect starts a new one.
//
// (`audio.buffered` is no help here: Chromium reports far less than it has
// received, which put titles a whole track early on a live MP3 stream.)

export class HeardClock {
  constructor(audio, show) {
    this.audio = audio;
    this.show = show;
    this.pending = [];
    this.timer = 0;
    this.connectedAt = null;
    this.burst = 0;
    audio.addEventListener("timeupdate", () => this.tick());
  }

  // A new connection to the mount: media time 0 is `burst` seconds behind the live edge.
  connected(burstSeconds) {
    this.reset();
    this.connectedAt = performance.now();
    this.burst = burstSeconds;
  }

  reset() {
    this.pending = [];
    clearTimeout(this.timer);
  }

  // The live edge, in this connection's media time.
  liveEdge() {
    return this.connectedAt === null ? null : this.burst + (performance.now() - this.connectedAt) / 1000;
  }

  // A track started `behind` seconds before the live edge, as of now.
  started(track, behind) {
    const edge = this.liveEdge();
    if (this.audio.paused || edge === null) {
      this.reset();
      this.show(track);
      return;
    }
    this.pending.push({ at: edge - behind, track });
    this.tick();
  }

  // Playback just began: if the current track started more recently than our
  // delay behind the live edge, what we hear first is still the previous track.
  tunedIn(current, behind, previous) {
    this.reset();
    const edge = this.liveEdge();
    const lag = edge === null ? 0 : edge - this.audio.currentTime;
    if (previous && behind < lag) {
      this.show(previous);
      this.started(current, behind);
    } else {
      this.show(current);
    }
  }

  tick() {
    clearTimeout(this.timer);
    const now = this.audio.currentTime;
    while (this.pending.length && this.pending[0].at <= now) this.show(this.pending.shift().track);
    if (this.pending.length) {
      const wait = (this.pending[0].at - now) * 1000;
      this.timer = setTimeout(() => this.tick(), Math.min(250, Math.max(20, wait)));
    }
  }
}
