// The listener page: every station at a glance, one click to play, live titles as heard.

import { copyText, el, formatDuration, formatWhen, getJSON } from "./api.js";
import { HeardClock } from "./heard.js";
import { HlsSource, nativeHls } from "./hls.js";
import { StreamPlayer } from "./stream.js";
import { visualize } from "./visualizer.js";

const $ = (id) => document.getElementById(id);
const RECENT_LIMIT = 20;
const HISTORY_LIMIT = 4; // track starts kept per station: enough to cover a new listener's burst

const audio = $("audio");
const hls = new HlsSource(audio, heardOnHls, (reason) => player.retry(reason));
const player = new StreamPlayer(audio, hls);
const heard = new HeardClock(audio, (track) => show(state.tuned, track));

const state = {
  stations: [], // summaries from the server, in lineup order
  history: new Map(), // station -> recent [{track, offset}], oldest first: the last is on air
  tuned: null, // the station in the player
  // How to listen, as the listener last chose; at first the MP3 mount, or HLS where the
  // browser's own player prefers it (Safari, iOS).
  format: localStorage.getItem("radio.format") ?? (nativeHls(audio) ? "hls" : "mp3"),
  panel: null, // the station whose recent tracks are open
  recent: [],
};

const station = (id) => state.stations.find((s) => s.id === id);
const onAir = (id) => state.history.get(id)?.at(-1)?.track;
const cardFor = (id) => document.querySelector(`.station[data-id="${CSS.escape(id)}"]`);
const listenersText = (n) => (n === 1 ? "1 listening" : `${n} listening`);

// -- the station grid -------------------------------------------------------------
function renderStations(stations) {
  state.stations = stations;
  $("stations").replaceChildren(...stations.map(card));
  for (const s of stations) {
    const heardHere = s.id === state.tuned ? heard.hearing?.track : null;
    show(s.id, heardHere ?? onAir(s.id) ?? s.now_playing);
  }
  if (state.tuned && !station(state.tuned)) {
    player.pause();
    state.tuned = null;
  }
  markTuned();
}

function card(s) {
  return el(
    "li",
    { class: "station", "data-id": s.id },
    el(
      "button",
      { type: "button", class: "tune", "aria-pressed": "false", onclick: () => tune(s.id) },
      el("span", { class: "visually-hidden action", text: "Play " }),
      el("span", { class: "genre", text: s.genre }),
      el("span", { class: "name", text: s.name }),
      el("span", { class: "title", text: s.now_playing ? s.now_playing.title : "Warming up…" }),
      el("span", { class: "listeners", text: listenersText(s.listeners) }),
      el("span", { class: "badge", "aria-hidden": "true" }),
    ),
    el(
      "div",
      { class: "links" },
      el("button", {
        type: "button",
        class: "link",
        text: "Copy URL",
        "aria-label": `Copy the stream URL of ${s.name}`,
        onclick: (event) => copy(s.stream.mp3, event.currentTarget),
      }),
      el("a", { href: s.stream.m3u, text: "M3U", "aria-label": `${s.name} as an M3U playlist` }),
      el("a", { href: s.stream.pls, text: "PLS", "aria-label": `${s.name} as a PLS playlist` }),
      el("a", { href: s.stream.opus, text: "Opus", "aria-label": `${s.name} in Ogg Opus` }),
      el("button", {
        type: "button",
        class: "link",
        text: "Tracks",
        "aria-label": `Recent tracks of ${s.name}`,
        onclick: () => openPanel(s.id),
      }),
    ),
  );
}

async function copy(text, button) {
  const done = await copyText(text);
  const label = button.textContent;
  button.textContent = done ? "Copied!" : "Copy failed";
  setTimeout(() => (button.textContent = label), 1500);
}

function markTuned() {
  for (const node of document.querySelectorAll(".station")) {
    const tuned = node.dataset.id === state.tuned;
    const playing = tuned && player.wanted;
    node.classList.toggle("tuned", tuned);
    node.classList.toggle("playing", playing);
    const button = node.querySelector(".tune");
    button.setAttribute("aria-pressed", String(playing));
    button.querySelector(".action").textContent = playing ? "Pause " : "Play ";
  }
  const playing = player.wanted;
  $("play").disabled = !state.tuned;
  $("play").classList.toggle("playing", playing);
  $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
  if ("mediaSession" in navigator) navigator.mediaSession.playbackState = playing ? "playing" : "paused";
}

// -- what is playing --------------------------------------------------------------
function show(id, track) {
  const s = station(id);
  if (!s || !track) return;
  const node = cardFor(id);
  if (node) node.querySelector(".title").textContent = track.title;
  if (id === state.tuned) {
    const title = $("now-title");
    title.textContent = track.title;
    title.dataset.track = track.id ?? "";
    title.disabled = false;
    title.setAttribute("aria-label", `${track.title}: track details`);
    document.title = `${track.title} · ${s.name} · AI Radio`;
    if ("mediaSession" in navigator && window.MediaMetadata) {
      navigator.mediaSession.metadata = new MediaMetadata({
        title: track.title,
        artist: s.name,
        album: `AI Radio · ${s.genre}`,
        artwork: [{ src: "/static/icon.svg", sizes: "any", type: "image/svg+xml" }],
      });
    }
  }
  if (id === state.panel && state.recent[0]?.id !== track.id) {
    state.recent.unshift({ ...track, started_at: new Date().toISOString() });
    state.recent.length = Math.min(state.recent.length, RECENT_LIMIT);
    renderRecent();
  }
}

// A station started a track; the tuned station's title waits until it is heard.
function noteTrack(event) {
  const id = event.station;
  const history = state.history.get(id) ?? [];
  const newest = history.at(-1);
  if (newest && newest.offset === event.offset && newest.track.id === event.track.id) return;
  history.push({ track: event.track, offset: event.offset });
  if (history.length > HISTORY_LIMIT) history.shift();
  state.history.set(id, history);
  if (id === state.tuned && player.wanted) {
    if (player.format === "mp3") heard.started(event.track, event.offset);
  } else show(id, event.track);
}

// On HLS the stream's own ID3 tags say what is heard ("<station> - <title>").
function heardOnHls(display) {
  const id = state.tuned;
  if (!id || player.format !== "hls") return;
  const known = [...(state.history.get(id) ?? [])].reverse().find((h) => h.track.display === display);
  const prefix = `${station(id)?.name} - `;
  show(id, known?.track ?? { title: display.startsWith(prefix) ? display.slice(prefix.length) : display });
}

// -- the player -------------------------------------------------------------------
function tune(id) {
  if (id === state.tuned && player.wanted) {
    player.pause();
    return;
  }
  const s = station(id);
  state.tuned = id;
  heard.stop();
  $("now-station").textContent = s.name;
  show(id, onAir(id) ?? s.now_playing);
  player.tune(state.format === "hls" ? s.stream.hls : s.stream.mp3, state.format);
  openPanel(id);
  if (state.history.get(id)?.length === 1) loadPrevious(id);
}

// Tuned in soon after the page loaded, we know only the track on air, but a new
// listener's burst may begin with the end of the one before.
async function loadPrevious(id) {
  const detail = await getJSON(`/api/stations/${encodeURIComponent(id)}`).catch(() => null);
  const [current, previous] = detail?.recent ?? [];
  const history = state.history.get(id);
  if (!previous || history?.[0].track.id !== current.id || history[0].offset === undefined) return;
  history.unshift({ track: previous, offset: undefined });
  if (id === state.tuned) heard.playedBefore(previous);
}

function tuneBy(step) {
  if (!state.stations.length) return;
  const at = state.stations.findIndex((s) => s.id === state.tuned);
  const next = state.stations[(at + step + state.stations.length) % state.stations.length];
  tune(next.id);
}

player.addEventListener("connect", ({ detail }) => {
  const id = state.tuned;
  if (!detail.session) {
    heard.stop(); // HLS: the ID3 tags place the titles
    return;
  }
  const url = `/api/stations/${encodeURIComponent(id)}/sessions/${detail.session}`;
  heard.connected(url, state.history.get(id) ?? []);
});

player.addEventListener("state", ({ detail }) => {
  const words = {
    connecting: "Connecting…",
    playing: player.format === "hls" ? "Live (HLS)" : "Live",
    buffering: "Buffering…",
    reconnecting: `Stream lost; reconnecting in ${Math.round(detail.seconds ?? 0)} s`,
    paused: "Paused",
  };
  $("player-status").textContent = words[detail.state] ?? "";
  $("player-status").dataset.state = detail.state;
  if (detail.state === "paused") {
    heard.stop();
    show(state.tuned, onAir(state.tuned));
  }
  markTuned();
});

// -- station panel and track details ------------------------------------------------
async function openPanel(id) {
  const s = station(id);
  if (!s) return;
  state.panel = id;
  $("panel").hidden = false;
  $("panel-name").textContent = s.name;
  $("panel-genre").textContent = s.genre;
  $("panel-description").textContent = s.description;
  const detail = await getJSON(`/api/stations/${encodeURIComponent(id)}`).catch(() => null);
  if (state.panel !== id || !detail) return;
  state.recent = detail.recent ?? [];
  // The tuned station's list starts at what the listener hears, not the server's newest.
  const shown = Number($("now-title").dataset.track);
  if (id === state.tuned && shown && state.recent[0]?.id !== shown) {
    const at = state.recent.findIndex((t) => t.id === shown);
    if (at > 0) state.recent = state.recent.slice(at);
  }
  renderRecent();
}

function renderRecent() {
  $("recent").replaceChildren(
    ...state.recent.map((t, index) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "recent-track", onclick: () => openTrack(t.id) },
          el("span", { class: "recent-title", text: t.title }),
          el("span", {
            class: "recent-meta",
            text: `${index === 0 ? "now · " : ""}${formatDuration(t.duration)} · ${new Date(t.started_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`,
          }),
        ),
      ),
    ),
  );
}

async function openTrack(id) {
  let track;
  try {
    track = await getJSON(`/api/tracks/${encodeURIComponent(id)}`);
  } catch (error) {
    $("player-status").textContent = `Track ${id}: ${error.message}`;
    return;
  }
  $("track-title").textContent = track.title;
  $("track-station").textContent = station(track.station)?.name ?? track.station;
  $("track-prompt").textContent = track.prompt;
  $("track-duration").textContent = formatDuration(track.duration);
  $("track-created").textContent = formatWhen(track.created_at);
  $("track-model").textContent = `${track.generator} (${track.model}), seed ${track.seed}`;
  $("track-plays").textContent = String(track.plays);
  $("track-download").href = track.audio_url;
  const dialog = $("track-dialog");
  if (!dialog.open) dialog.showModal();
  history.replaceState(null, "", `#track=${track.id}`);
}

$("track-dialog").addEventListener("close", () => history.replaceState(null, "", location.pathname));
$("panel-close").addEventListener("click", () => {
  $("panel").hidden = true;
  state.panel = null;
});
$("now-title").addEventListener("click", (event) => {
  const id = event.currentTarget.dataset.track;
  if (id) openTrack(id);
});

// -- controls -------------------------------------------------------------------------
$("play").addEventListener("click", () => {
  if (state.tuned) player.toggle();
});
$("volume").value = String(player.volume);
$("hls").checked = state.format === "hls";
$("hls").addEventListener("change", async (event) => {
  const wanted = event.target.checked;
  if (wanted && !(await HlsSource.supported(audio).catch(() => false))) {
    event.target.checked = false;
    $("player-status").textContent = "HLS does not play in this browser";
    return;
  }
  state.format = wanted ? "hls" : "mp3";
  localStorage.setItem("radio.format", state.format);
  if (state.tuned && player.wanted) {
    const id = state.tuned;
    state.tuned = null; // tune afresh in the new format
    tune(id);
  }
});
$("volume").addEventListener("input", (event) => player.setVolume(Number(event.target.value)));

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select, button, a, [contenteditable]");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if ((event.key === " " || event.key === "k") && state.tuned) {
    event.preventDefault();
    player.toggle();
  } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
    event.preventDefault();
    player.setVolume(player.volume + (event.key === "ArrowUp" ? 0.05 : -0.05));
    $("volume").value = String(player.volume);
  }
});

if ("mediaSession" in navigator) {
  const actions = {
    play: () => player.resume(),
    pause: () => player.pause(),
    stop: () => player.pause(),
    nexttrack: () => tuneBy(1),
    previoustrack: () => tuneBy(-1),
  };
  for (const [action, handler] of Object.entries(actions)) {
    try {
      navigator.mediaSession.setActionHandler(action, handler);
    } catch {
      // an action this browser does not know
    }
  }
}

// -- live updates ---------------------------------------------------------------------
function setLive(live) {
  $("live").classList.toggle("up", live);
  $("live-text").textContent = live ? "Live updates" : "Reconnecting…";
}

async function refreshLineup() {
  const body = await getJSON("/api/stations").catch(() => null);
  if (body) renderStations(body.stations);
}

function listen() {
  // EventSource reconnects by itself (the server asks for 2 s); each connect starts with hello.
  const source = new EventSource("/api/events");
  source.addEventListener("hello", (event) => {
    const hello = JSON.parse(event.data);
    renderStations(hello.stations);
    for (const track of hello.tracks) noteTrack(track);
    setLive(true);
  });
  source.addEventListener("track", (event) => noteTrack(JSON.parse(event.data)));
  source.addEventListener("listeners", (event) => {
    for (const [id, count] of Object.entries(JSON.parse(event.data))) {
      const node = cardFor(id);
      if (node) node.querySelector(".listeners").textContent = listenersText(count);
    }
  });
  source.addEventListener("lineup", refreshLineup);
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
}

visualize($("visualizer"), player);
refreshLineup();
listen();
const deepLink = location.hash.match(/^#track=(\d+)$/);
if (deepLink) openTrack(deepLink[1]);
