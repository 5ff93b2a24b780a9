// A station's HLS playlist on the <audio> element, and the titles its timed ID3 tags carry.
//
// Safari and iOS play HLS themselves; elsewhere hls.js (vendored, light build) feeds the
// element through Media Source Extensions, loaded only when a listener chooses HLS. Both
// expose the segments' timed ID3 the same way: a "metadata" text track whose cues carry
// `value: {key: "TIT2", data: "<title>"}`, active while their moment plays. So the title
// shown is the one heard, with no clock of our own.
//
// Recent Chromium also answers canPlayType for HLS, but we know its own player's handling
// of timed ID3 only from Apple's: so "native" means Apple's player, and every other
// browser with MSE gets hls.js, whose metadata track we test.

const HLS_JS = "/static/vendor/hls.js/hls.light.min.js";

const plays = (audio) => audio.canPlayType("application/vnd.apple.mpegurl") !== "";
export const nativeHls = (audio) => plays(audio) && navigator.vendor.startsWith("Apple");

export class HlsSource {
  constructor(audio, onTitle, onFatal) {
    this.audio = audio;
    this.onTitle = onTitle; // (title) for each TIT2 as it is heard
    this.onFatal = onFatal; // (reason) when hls.js gives up; the player reconnects
    this.hls = null;
    this.attaching = 0; // bumped by every attach and detach, so a late import is dropped
    this.watched = new WeakSet();
    audio.textTracks.addEventListener("addtrack", (event) => this.watch(event.track));
  }

  static async supported(audio) {
    if (plays(audio)) return true;
    const { default: Hls } = await import(HLS_JS);
    return Hls.isSupported();
  }

  async attach(url) {
    this.detach();
    const attaching = this.attaching;
    const Hls = nativeHls(this.audio) ? null : (await import(HLS_JS)).default;
    if (attaching !== this.attaching) return; // paused or retuned meanwhile
    if (!Hls?.isSupported()) {
      this.audio.src = url; // Apple's player, or a browser's own with no MSE for hls.js
      return;
    }
    const hls = new Hls({ enableID3MetadataCues: true, liveSyncDurationCount: 3 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) this.onFatal(`${data.type}: ${data.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(this.audio);
    this.hls = hls;
  }

  detach() {
    this.attaching += 1;
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
  }

  watch(track) {
    if (track.kind !== "metadata" || this.watched.has(track)) return;
    this.watched.add(track);
    track.mode = "hidden"; // cues fire events only when the track is not disabled
    track.addEventListener("cuechange", () => {
      const cues = Array.from(track.activeCues ?? []);
      const title = cues.map((cue) => cue.value).filter((v) => v?.key === "TIT2").at(-1);
      if (title) this.onTitle(String(title.data));
    });
  }
}
