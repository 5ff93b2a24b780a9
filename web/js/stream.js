// One <audio> element on a station's mount or its HLS playlist: play, pause, volume, an
// analyser for the visualizer, and reconnection with growing pauses when the stream drops.

const MAX_RETRY_SECONDS = 30;
const STALL_SECONDS = 8; // buffering this long on a live stream means the connection is gone
const STABLE_SECONDS = 10; // playing this long resets the back-off

// crypto.randomUUID() exists only in secure contexts; a radio on a LAN is often plain http.
function newSession() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class StreamPlayer extends EventTarget {
  constructor(audio, hls) {
    super();
    this.audio = audio;
    this.hls = hls; // an HlsSource (hls.js), used when a station is tuned as "hls"
    this.url = null;
    this.format = "mp3";
    this.wanted = false;
    this.attempt = 0;
    this.timers = {};
    this.graph = null;
    this.volume = Number(localStorage.getItem("radio.volume") ?? 0.8);
    for (const type of ["playing", "waiting", "error", "ended", "stalled"]) {
      audio.addEventListener(type, (event) => this.onAudio(event));
    }
  }

  get playing() {
    return this.wanted && !this.audio.paused;
  }

  get analyser() {
    return this.graph ? this.graph.analyser : null;
  }

  tune(url, format = "mp3") {
    this.url = url;
    this.format = format;
    this.resume();
  }

  resume() {
    if (!this.url) return;
    this.wanted = true;
    this.attempt = 0;
    this.connect();
  }

  // Pausing live radio drops the connection: resuming should be live, not
  // minutes late, and the server would cut a listener that stops reading anyway.
  pause() {
    this.wanted = false;
    this.clearTimers();
    this.hls.detach();
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    this.emit("state", { state: "paused" });
  }

  toggle() {
    if (this.wanted) this.pause();
    else this.resume();
  }

  setVolume(value) {
    this.volume = Math.min(1, Math.max(0, value));
    localStorage.setItem("radio.volume", String(this.volume));
    if (this.graph) this.graph.gain.gain.setTargetAtTime(this.volume, this.graph.context.currentTime, 0.02);
    else this.audio.volume = this.volume;
  }

  connect() {
    this.clearTimers();
    this.ensureGraph();
    if (this.format === "hls") {
      // A playlist is the same URL for every listener (so caches can share it); there is
      // no session: the titles come from the stream itself.
      this.emit("connect", { session: null });
      this.emit("state", { state: "connecting" });
      this.hls
        .attach(this.url)
        .then(() => this.play())
        .catch((error) => this.retry(String(error)));
      return;
    }
    this.hls.detach();
    // A fresh session each time: the server tells us where in the stream this very
    // connection began (see heard.js), and a reconnect is never answered from a cache.
    const session = newSession();
    this.audio.src = `${this.url}?session=${session}`;
    this.emit("connect", { session });
    this.emit("state", { state: "connecting" });
    this.play();
  }

  play() {
    this.audio.play().catch((error) => {
      if (error.name === "NotAllowedError") this.pause(); // autoplay refused: wait for a click
    });
  }

  retry(reason) {
    if (!this.wanted) return;
    this.clearTimers();
    const seconds = Math.min(MAX_RETRY_SECONDS, 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.emit("state", { state: "reconnecting", seconds, reason });
    this.timers.retry = setTimeout(() => this.connect(), seconds * 1000);
  }

  onAudio(event) {
    if (!this.wanted) return;
    switch (event.type) {
      case "playing":
        clearTimeout(this.timers.stall);
        this.timers.stable = setTimeout(() => (this.attempt = 0), STABLE_SECONDS * 1000);
        this.emit("state", { state: "playing" });
        break;
      case "waiting":
      case "stalled":
        clearTimeout(this.timers.stall);
        this.timers.stall = setTimeout(() => this.retry("stalled"), STALL_SECONDS * 1000);
        this.emit("state", { state: "buffering" });
        break;
      case "error":
      case "ended":
        this.retry(event.type);
        break;
    }
  }

  // The analyser sits before the gain, so the visualizer moves even at low volume.
  ensureGraph() {
    if (this.graph) {
      if (this.graph.context.state === "suspended") this.graph.context.resume();
      return;
    }
    if (this.graph === false || !window.AudioContext) {
      this.graph = false;
      this.audio.volume = this.volume;
      return;
    }
    const context = new AudioContext();
    const source = context.createMediaElementSource(this.audio);
    const analyser = context.createAnalyser();
    analyser.fftSize = 128;
    analyser.smoothingTimeConstant = 0.75;
    const gain = context.createGain();
    gain.gain.value = this.volume;
    source.connect(analyser).connect(gain).connect(context.destination);
    this.graph = { context, analyser, gain };
  }

  clearTimers() {
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.timers = {};
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
