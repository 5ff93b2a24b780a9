// The operator console: a page over the console's JSON API (radio/server/admin.py).

import { ApiError, el, formatWhen, getJSON } from "./api.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;
const EDITS_REFRESH_MS = 10000;
const TUNABLES = ["track_seconds", "crossfade_seconds", "backlog_minutes", "bitrate"];

// `radio serve` prints /admin#token=<token>: sign in with it, then drop it from the address
// bar (a fragment never reaches the server or its logs).
const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromLink) {
  sessionStorage.setItem("radio.token", fromLink);
  history.replaceState(null, "", location.pathname + location.search);
}

const session = {
  token: sessionStorage.getItem("radio.token") || "",
  name: sessionStorage.getItem("radio.operator") || "",
};
let overview = null; // the last GET /api/admin/stations
let editing = null; // the station being edited, {} for a new one
let timers = [];

// -- talking to the API ---------------------------------------------------------------
async function api(path, options = {}) {
  // Header values must be Latin-1; a name outside it is logged with "?" in its place.
  const name = session.name.replace(/[^\x20-\x7e\xa0-\xff]/g, "?");
  const headers = { Authorization: `Bearer ${session.token}` };
  if (name) headers["X-Operator"] = name;
  const init = { ...options, headers };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  try {
    return await getJSON(path, init);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signOut(error.message);
    throw error;
  }
}

// -- signing in -----------------------------------------------------------------------
$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  session.token = $("token").value.trim();
  session.name = $("operator").value.trim();
  await signIn();
});

async function signIn() {
  $("login-error").textContent = "";
  try {
    overview = await api("/api/admin/stations");
  } catch (error) {
    $("login-error").textContent = error.message;
    return;
  }
  sessionStorage.setItem("radio.token", session.token);
  sessionStorage.setItem("radio.operator", session.name);
  $("login-card").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `Signed in as ${session.name || "operator"}`;
  renderOverview();
  refreshEdits();
  refreshPool();
  timers = [
    setInterval(refreshOverview, REFRESH_MS),
    setInterval(refreshPool, REFRESH_MS),
    setInterval(refreshEdits, EDITS_REFRESH_MS),
  ];
}

function signOut(message = "") {
  timers.forEach(clearInterval);
  timers = [];
  sessionStorage.removeItem("radio.token");
  session.token = "";
  $("console").hidden = true;
  $("login-card").hidden = false;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

$("sign-out").addEventListener("click", () => signOut());

// -- the overview: updated in place, so keyboard focus survives each refresh ------------
async function refreshOverview() {
  try {
    overview = await api("/api/admin/stations");
    renderOverview();
    renderOutputs(await api("/api/admin/outputs"));
  } catch (error) {
    say(`Could not refresh: ${error.message}`, true);
  }
}

function renderOverview() {
  const body = $("overview").tBodies[0];
  const ids = overview.stations.map((s) => s.id).join(" ");
  if (body.dataset.ids !== ids) {
    body.replaceChildren(...overview.stations.map(row));
    body.dataset.ids = ids;
  }
  overview.stations.forEach((s, index) => fill(body.rows[index], s));
  const live = overview.stations.filter((s) => s.live.on_air).length;
  $("summary").textContent = `${live} of ${overview.stations.length} on air · ${overview.generator.name} (${overview.generator.model})`;
  $("timezone").textContent = overview.timezone;
}

// Each station's Icecast push, shown only where [icecast] is enabled in stations.toml.
function renderOutputs(body) {
  $("outputs-card").hidden = !body.icecast.enabled;
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  $("outputs").tBodies[0].replaceChildren(
    ...body.outputs.map((o) =>
      el(
        "tr",
        { "data-id": o.station },
        el("td", { text: o.station }),
        el("td", { text: `${o.server}${o.mount}` }),
        el("td", { text: o.state }),
        el("td", { text: mb(o.bytes_sent) }),
        el("td", { text: o.drops ? `${mb(o.dropped_bytes)} (${o.drops} chunks)` : "—" }),
        el("td", { text: String(o.reconnects) }),
        el("td", { class: o.connected ? "muted" : "error", text: o.last_error ?? "—" }),
      ),
    ),
  );
}

function row(s) {
  const action = (text, handler, extra = {}) =>
    el("button", { type: "button", class: "ghost", text, onclick: () => handler(s.id), ...extra });
  return el(
    "tr",
    { "data-id": s.id },
    el("td", { class: "station-cell" }, el("strong"), el("small"), el("span", { class: "pill" })),
    el("td", { class: "now" }),
    el(
      "td",
      {},
      el("div", { class: "meter", role: "meter", "aria-valuemin": "0" }, el("span")),
      el("small", { class: "muted" }),
    ),
    el("td", { class: "generation" }),
    el("td", { class: "replays" }),
    el("td", { class: "listeners" }),
    el(
      "td",
      {},
      el(
        "div",
        { class: "actions" },
        action("Skip", skip, { "aria-label": `Skip the current track on ${s.name}`, class: "ghost skip" }),
        action("Apply now", applyNow, { "aria-label": `Apply ${s.name}'s settings now` }),
        action("Edit", openEditor, { "aria-label": `Edit ${s.name}`, class: "ghost edit" }),
      ),
    ),
  );
}

function fill(tr, s) {
  const live = s.live;
  const [cell, now, backlog, generation, replays, listeners] = tr.cells;
  tr.classList.toggle("off", !s.enabled);
  cell.querySelector("strong").textContent = s.name;
  cell.querySelector("small").textContent = `${s.id} · ${s.genre}${s.enabled ? "" : " · off air"}`;
  const pill = cell.querySelector(".pill");
  pill.hidden = !live.daypart;
  pill.textContent = live.daypart ? `daypart: ${live.daypart}` : "";
  now.textContent = live.now_playing ? live.now_playing.replace(`${s.name} - `, "") : "—";
  const target = s.backlog_minutes * 60;
  const share = target ? Math.min(1, live.backlog_seconds / target) : 0;
  const meter = backlog.querySelector(".meter");
  meter.classList.toggle("low", s.enabled && share < 0.25);
  meter.querySelector("span").style.width = `${(share * 100).toFixed(1)}%`;
  meter.setAttribute("aria-valuemax", target.toFixed(0));
  meter.setAttribute("aria-valuenow", live.backlog_seconds.toFixed(0));
  meter.setAttribute("aria-label", `Backlog of ${s.name}`);
  backlog.querySelector("small").textContent = `${minutes(live.backlog_seconds)} of ${minutes(target)}`;
  const speed = live.speed === null ? "—" : `×${live.speed >= 10 ? Math.round(live.speed) : live.speed} real time`;
  generation.textContent = `${speed} · ${live.generated} tracks${live.failed ? ` · ${live.failed} failed` : ""}`;
  replays.textContent = String(live.replays);
  listeners.textContent = String(live.listeners);
  tr.querySelector(".skip").disabled = !live.on_air;
}

function minutes(seconds) {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${(seconds / 60).toFixed(1)} min`;
}

// -- actions on air ---------------------------------------------------------------------
const stationById = (id) => overview.stations.find((s) => s.id === id);

function say(message, isError = false) {
  $("action-status").textContent = message;
  $("action-status").className = isError ? "error" : "ok";
}

async function skip(id) {
  try {
    const result = await api(`/api/admin/stations/${id}/skip`, { method: "POST" });
    say(`Skipped ${result.skipped ?? "the current track"}.`);
    refreshEdits();
  } catch (error) {
    say(error.message, true);
  }
}

async function applyNow(id) {
  try {
    const result = await api(`/api/admin/stations/${id}/apply-now`, { method: "POST" });
    say(`${stationById(id).name}: dropped ${result.dropped} unplayed tracks; the new sound is on within one track.`);
    refreshEdits();
    refreshOverview();
  } catch (error) {
    say(error.message, true);
  }
}

// -- the editor -----------------------------------------------------------------------------
const form = $("station-form");

function poolsText(pools) {
  return Object.entries(pools)
    .map(([name, values]) => `${name} = ${JSON.stringify(values)}`)
    .join("\n");
}

function parsePools(text, where) {
  const pools = {};
  text.split("\n").forEach((line, index) => {
    if (!line.trim()) return;
    const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\[.*\])\s*$/);
    let values = null;
    try {
      values = match ? JSON.parse(match[2]) : null;
    } catch {
      values = null;
    }
    if (!Array.isArray(values)) {
      throw new Error(`${where}, line ${index + 1}: write it as name = ["value", "value"]`);
    }
    pools[match[1]] = values;
  });
  return pools;
}

function addDaypart(part = { name: "", cron: "", prompt: "", pools: {} }) {
  const node = $("daypart-template").content.firstElementChild.cloneNode(true);
  for (const input of node.querySelectorAll("[data-key]")) {
    const key = input.dataset.key;
    input.value = key === "pools" ? poolsText(part.pools) : part[key];
  }
  node.querySelector(".remove-daypart").addEventListener("click", () => node.remove());
  $("dayparts").append(node);
  return node;
}

function openEditor(id) {
  const creating = id === null;
  const defaults = overview.defaults;
  editing = creating
    ? { id: "", name: "", genre: "", description: "", prompt: "", pools: {}, enabled: true, dayparts: [], ...defaults }
    : stationById(id);
  $("editor-heading").textContent = creating ? "Add a station" : `Edit ${editing.name}`;
  const fields = form.elements;
  for (const key of ["id", "name", "genre", "description", "prompt", ...TUNABLES]) {
    fields[key].value = String(editing[key]);
  }
  fields.id.readOnly = !creating;
  fields.pools.value = poolsText(editing.pools);
  fields.enabled.checked = editing.enabled;
  $("dayparts").replaceChildren();
  editing.dayparts.forEach((part) => addDaypart(part));
  $("remove").hidden = creating;
  $("save-apply").hidden = creating;
  $("form-error").textContent = "";
  $("editor").hidden = false;
  $("editor").scrollIntoView({ behavior: "smooth", block: "start" });
  fields[creating ? "id" : "name"].focus({ preventScroll: true });
}

function collect() {
  const fields = form.elements;
  const values = {};
  for (const key of ["id", "name", "genre", "description", "prompt"]) values[key] = fields[key].value.trim();
  for (const key of TUNABLES) values[key] = Number(fields[key].value);
  values.pools = parsePools(fields.pools.value, "Pools");
  values.enabled = fields.enabled.checked;
  values.dayparts = [...$("dayparts").querySelectorAll(".daypart")].map((node, index) => {
    const part = {};
    for (const input of node.querySelectorAll("[data-key]")) {
      const key = input.dataset.key;
      part[key] = key === "pools" ? parsePools(input.value, `Daypart ${index + 1} pools`) : input.value.trim();
    }
    return part;
  });
  return values;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const apply = event.submitter?.value === "apply";
  $("form-error").textContent = "";
  let values;
  try {
    values = collect();
  } catch (error) {
    $("form-error").textContent = error.message;
    return;
  }
  try {
    if (!editing.id) {
      // Tunables equal to [defaults] stay out of the file, so a later default change reaches them.
      for (const key of TUNABLES) if (values[key] === overview.defaults[key]) delete values[key];
      if (!values.dayparts.length) delete values.dayparts;
      const result = await api("/api/admin/stations", { method: "POST", body: values });
      say(`Added ${result.station.name}; it is on air.`);
    } else {
      const changes = {};
      for (const [key, value] of Object.entries(values)) if (!same(value, editing[key])) changes[key] = value;
      delete changes.id;
      if (Object.keys(changes).length) await api(`/api/admin/stations/${editing.id}`, { method: "PATCH", body: changes });
      let message = Object.keys(changes).length
        ? `Saved ${values.name}: ${Object.keys(changes).join(", ")}. The next generated track uses it.`
        : `Nothing changed on ${values.name}.`;
      if (apply) {
        const result = await api(`/api/admin/stations/${editing.id}/apply-now`, { method: "POST" });
        message += ` Dropped ${result.dropped} unplayed tracks: the new sound is on within one track.`;
      }
      say(message);
    }
  } catch (error) {
    $("form-error").textContent = error.message;
    return;
  }
  closeEditor();
  refreshOverview();
  refreshEdits();
});

function closeEditor() {
  $("editor").hidden = true;
  editing = null;
}

$("cancel").addEventListener("click", closeEditor);
$("add-daypart").addEventListener("click", () => addDaypart().querySelector("input").focus());
$("add-station").addEventListener("click", () => openEditor(null));
$("remove").addEventListener("click", async () => {
  if (!window.confirm(`Remove ${editing.name}? It goes off air and out of stations.toml.`)) return;
  try {
    await api(`/api/admin/stations/${editing.id}`, { method: "DELETE" });
    say(`Removed ${editing.name}.`);
    closeEditor();
    refreshOverview();
    refreshEdits();
  } catch (error) {
    $("form-error").textContent = error.message;
  }
});

// -- the edits log ------------------------------------------------------------------------
function describe(edit) {
  const { action, before, after } = edit;
  if (action === "add") return "added the station";
  if (action === "remove") return "removed the station";
  if (action === "skip") return `skipped ${before?.now_playing ?? "a track"}`;
  if (action === "apply-now") return `dropped ${before?.dropped ?? 0} unplayed tracks`;
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const short = (value) => {
    const text = value === undefined ? "(default)" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}…` : text;
  };
  return keys
    .filter((key) => !same(before?.[key], after?.[key]))
    .map((key) => `${key}: ${short(before?.[key])} → ${short(after?.[key])}`)
    .join("\n");
}

// -- generator workers: local, or Ray actors with their device, model and counts ------
async function refreshPool() {
  let body;
  try {
    body = await api("/api/admin/pool");
  } catch {
    return;
  }
  $("pool-kind").textContent = body.workers === "ray" ? "on Ray" : "in the server's process";
  $("pool").tBodies[0].replaceChildren(
    ...body.pool.map((worker) =>
      el(
        "tr",
        { "data-state": worker.state },
        el("td", { text: worker.name }),
        el("td", { text: worker.node }),
        el("td", { text: worker.device }),
        el("td", { text: worker.model }),
        el("td", { text: [worker.state, worker.reason, worker.making.join(", ")].filter(Boolean).join(": ") }),
        el("td", { text: String(worker.batches) }),
        el("td", { text: String(worker.failures) }),
      ),
    ),
  );
}

async function refreshEdits() {
  let body;
  try {
    body = await api("/api/admin/edits?limit=50");
  } catch {
    return;
  }
  $("edits").tBodies[0].replaceChildren(
    ...body.edits.map((edit) =>
      el(
        "tr",
        {},
        el("td", { text: formatWhen(edit.at) }),
        el("td", { text: edit.who }),
        el("td", { text: edit.station }),
        el("td", { text: edit.action }),
        el("td", { class: "change", text: describe(edit) }),
      ),
    ),
  );
}

if (session.token) {
  $("operator").value = session.name;
  signIn();
}
