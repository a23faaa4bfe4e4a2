// The command center's wall screen: a live map of the district and the panels to run an
// incident (declare, closures, requests, plan review and approval, people, figures,
// alerts). Every view reloads from the API when the live feed says it changed.
import { api, currentExercise, me } from "/static/js/api.js";
import { clear, h, problemText, table, toast } from "/static/js/dom.js";
import { fmtNumber, fmtTime, lang, t } from "/static/js/i18n.js";
import { subscribe } from "/static/js/live.js";
import { createMap, describe as describeLayer } from "/static/js/map.js";

const $ = (id) => document.getElementById(id);
const INCIDENT_KEY = "command.incident";
const TYPES = ["rainstorm", "fire", "earthquake", "heatwave", "snow_ice", "public_health", "utility_outage", "building_collapse"];
const LEVELS = ["I", "II", "III", "IV"];
const PRIORITIES = ["critical", "high", "normal"];
const SOURCES = ["community", "hotline"];
const OPEN_REQUEST = new Set(["open", "planned", "partially_fulfilled"]);
const ACTIVE_TASK = new Set(["open", "assigned", "accepted", "en_route"]);
const ROUTE_COLOURS = ["#1d4ed8", "#7c3aed", "#0891b2", "#c026d3", "#ea580c", "#059669", "#4f46e5", "#be123c"];

const state = {
  user: null,
  communities: new Map(),
  streets: new Map(),
  depots: new Map(),
  items: new Map(),
  skills: new Map(),
  incidents: [],
  incident: null,
  requests: [],
  plan: null,
  tasks: [],
  closures: [],
  outages: [],
  stockSummary: [],
  alerts: [],
  onDuty: [],
  summary: null,
  suggestions: null,
  picking: false,
};

let cc = null; // the map helpers

const itemName = (code) => {
  const item = state.items.get(code);
  return item ? (lang === "en" ? item.name_en : item.name_zh) : code;
};
const communityName = (code) => state.communities.get(code)?.name || code;
const skillName = (code) => state.skills.get(code) || code;
const depotName = (code) => state.depots.get(code)?.name || code;
const incidentId = () => state.incident?.id ?? null;
const badge = (text, cls = "") => h("span", { class: `badge ${cls}` }, text);
const prioBadge = (p) => badge(t(`command.priority.${p}`), `prio-${p}`);

// --- loading -------------------------------------------------------------------------------

async function loadPlaces() {
  const [communities, streets, depots, items, skills] = await Promise.all([
    api("/api/communities"),
    api("/api/streets"),
    api("/api/depots"),
    api("/api/stock/items").catch(() => []),
    api("/api/skills").catch(() => []),
  ]);
  skills.forEach((s) => state.skills.set(s.code, s.name));
  communities.forEach((c) => state.communities.set(c.code, c));
  streets.forEach((s) => state.streets.set(s.code, s));
  depots.forEach((d) => state.depots.set(d.code, d));
  items.forEach((i) => state.items.set(i.code, i));
}

async function loadIncidents() {
  state.incidents = await api("/api/incidents");
  const wanted = Number(localStorage.getItem(INCIDENT_KEY)) || null;
  state.incident =
    state.incidents.find((i) => i.id === wanted) ||
    state.incidents.find((i) => i.status !== "closed") ||
    state.incidents[0] ||
    null;
  renderIncidents();
}

async function loadRequests() {
  state.requests = incidentId() ? await api(`/api/incidents/${incidentId()}/requests`) : [];
  renderRequests();
  drawRequests();
  renderFigures();
}

async function loadPlan() {
  const plans = incidentId() ? await api(`/api/incidents/${incidentId()}/plans`) : [];
  const newest = [...plans].sort((a, b) => b.id - a.id);
  const plan = newest.find((p) => p.status === "proposed") || newest[0] || null;
  const same = plan && state.plan && plan.id === state.plan.id && plan.status === state.plan.status;
  state.plan = plan;
  if (!same) renderPlan(); // a reload must not wipe quantities being edited
  drawPlan();
}

async function loadTasks() {
  state.tasks = incidentId() ? await api(`/api/tasks?incident=${incidentId()}`) : [];
  renderTasks();
  drawTransfers();
}

async function loadSummary() {
  state.summary = incidentId() ? await api(`/api/incidents/${incidentId()}/summary`) : null;
  renderFigures();
}

async function loadClosures() {
  state.closures = await api("/api/closures");
  renderClosures();
  drawClosures();
}

async function loadStock() {
  const [summary, alerts, outages] = await Promise.all([
    api("/api/stock/summary").catch(() => []),
    api("/api/stock/alerts").catch(() => []),
    api("/api/depot-outages").catch(() => []),
  ]);
  state.stockSummary = summary;
  state.alerts = alerts;
  state.outages = outages;
  renderAlerts();
  drawDepots();
  renderFigures();
}

async function loadDuty() {
  state.onDuty = await api("/api/duty/on-duty").catch(() => []);
  renderDuty();
  drawCommunities();
  renderFigures();
}

const LOADERS = {
  incidents: loadIncidents,
  requests: loadRequests,
  plan: loadPlan,
  tasks: loadTasks,
  summary: loadSummary,
  closures: loadClosures,
  stock: loadStock,
  duty: loadDuty,
};
const INCIDENT_VIEWS = ["requests", "plan", "tasks", "summary"];

let pending = new Set();
let timer = null;

/** Reload these views soon; bursts of events (a plan approval emits dozens) become one load. */
function refresh(...names) {
  names.forEach((n) => pending.add(n));
  if (timer) return; // already due: a steady stream of events must not postpone it forever
  timer = setTimeout(async () => {
    timer = null;
    const todo = [...pending];
    pending = new Set();
    if (todo.includes("incidents")) await run(loadIncidents);
    await Promise.all(todo.filter((n) => n !== "incidents").map((n) => run(LOADERS[n])));
  }, 250);
}

async function run(loader) {
  try {
    await loader();
  } catch (error) {
    if (error instanceof TypeError) return; // offline: the live feed reconnects and reloads
    toast(problemText(error), { bad: true });
  }
}

// --- the map -------------------------------------------------------------------------------

/** A tooltip from text lines, built as DOM (names are data, never markup). */
function tip(layer, lines) {
  const box = h("div", {}, ...lines.filter(Boolean).flatMap((line, i) => (i ? [h("br"), line] : [line])));
  return describeLayer(layer, box);
}

function onDutyOf(code) {
  return state.onDuty.find((c) => c.community === code)?.on_duty ?? 0;
}

function drawCommunities() {
  if (!cc) return;
  const L = window.L;
  cc.clear("communities");
  cc.clear("duty");
  const involved = new Set(state.incident?.communities || []);
  const chosen = declaring() ? new Set([...$("declare-communities").selectedOptions].map((o) => o.value)) : new Set();
  for (const c of state.communities.values()) {
    const picked = chosen.has(c.code);
    const dot = L.circleMarker([c.lat, c.lon], {
      radius: picked ? 8 : involved.has(c.code) ? 6 : 4,
      color: picked ? "#c2410c" : "#1d4ed8",
      weight: c.approximate ? 1.5 : picked ? 3 : 1,
      fillColor: picked ? "#fb923c" : "#2563eb",
      fillOpacity: c.approximate && !picked ? 0 : 0.85,
      dashArray: c.approximate ? "2 2" : null,
      className: c.approximate ? "cc-community cc-approximate" : "cc-community",
    });
    tip(dot, [c.name, c.approximate ? t("command.approximate") : null, t("command.on_duty_n", { n: onDutyOf(c.code) })]);
    dot.on("add", () => dot.getElement()?.setAttribute("data-community", c.code));
    dot.on("click", () => declaring() && !state.picking && toggleDeclared(c.code));
    cc.layer("communities").addLayer(dot);
    if (involved.has(c.code)) {
      const label = L.marker([c.lat, c.lon], {
        icon: L.divIcon({ className: "duty-label", html: "", iconSize: null, iconAnchor: [-8, 8] }),
        keyboard: false,
        interactive: false,
      });
      label.on("add", () => {
        label.getElement().textContent = t("command.on_duty_n", { n: onDutyOf(c.code) });
      });
      cc.layer("duty").addLayer(label);
    }
  }
}

const declaring = () => $("cc-declare").open;

/** While the declare form is open, a tap on a community adds it to the incident (or drops it). */
function toggleDeclared(code) {
  const option = [...$("declare-communities").options].find((o) => o.value === code);
  if (!option) return;
  option.selected = !option.selected;
  drawCommunities();
}

/** Worst usable-stock percentage against standard of a depot's lines (null: no standard). */
function depotStock(depot) {
  const rows = state.stockSummary.filter((r) => (r.street ?? null) === (depot.street ?? null) && r.standard > 0);
  if (!rows.length) return null;
  const worst = rows.reduce((a, b) => (b.on_hand / b.standard < a.on_hand / a.standard ? b : a));
  return { percent: Math.round((100 * worst.on_hand) / worst.standard), item: worst.item };
}

function drawDepots() {
  if (!cc) return;
  const L = window.L;
  cc.clear("depots");
  const out = new Set(state.outages.map((o) => o.depot));
  for (const d of state.depots.values()) {
    const stock = depotStock(d);
    let cls = stock == null ? "none" : stock.percent >= 100 ? "ok" : stock.percent >= 60 ? "warn" : "bad";
    if (out.has(d.code)) cls = "out";
    const size = d.kind === "district_reserve" ? 26 : 18;
    const marker = L.marker([d.lat, d.lon], {
      icon: L.divIcon({ className: `depot-icon ${cls}`, html: "", iconSize: [size, size] }),
      keyboard: false,
      zIndexOffset: 500,
    });
    marker.on("add", () => marker.getElement()?.setAttribute("data-depot", d.code));
    tip(marker, [d.name, stock ? t("command.depot_stock", { percent: stock.percent, item: itemName(stock.item) }) : t("command.depot_no_standard")]);
    cc.layer("depots").addLayer(marker);
  }
}

function drawRequests() {
  if (!cc) return;
  const L = window.L;
  cc.clear("requests");
  const byCommunity = new Map();
  for (const r of state.requests) {
    if (!OPEN_REQUEST.has(r.status)) continue;
    const need = Math.max(0, r.quantity - r.delivered_qty);
    if (!need) continue;
    const entry = byCommunity.get(r.community) || { need: 0, priority: "normal", lines: [] };
    entry.need += need;
    if (PRIORITIES.indexOf(r.priority) < PRIORITIES.indexOf(entry.priority)) entry.priority = r.priority;
    entry.lines.push(`${itemName(r.item)} × ${need}`);
    byCommunity.set(r.community, entry);
  }
  for (const [code, entry] of byCommunity) {
    const c = state.communities.get(code);
    if (!c) continue;
    const colour = entry.priority === "critical" ? "#b91c1c" : entry.priority === "high" ? "#d97706" : "#dc2626";
    const circle = L.circleMarker([c.lat, c.lon], {
      radius: Math.min(42, 7 + 2.2 * Math.sqrt(entry.need)),
      color: colour,
      weight: 2,
      fillColor: colour,
      fillOpacity: 0.35,
      className: "cc-request",
    });
    tip(circle, [c.name, t("command.need_n", { n: entry.need }), t(`command.priority.${entry.priority}`), ...entry.lines.slice(0, 6)]);
    cc.layer("requests").addLayer(circle);
  }
}

const latlngs = (coordinates) => (coordinates || []).map(([lon, lat]) => [lat, lon]);

const planRoutes = []; // polyline per plan line, in table order

/** Pointing at (or focusing into) a plan row picks out its route on the map. */
function highlightRoute(index, on) {
  const route = planRoutes[index];
  if (!route) return;
  route.setStyle({ weight: on ? 10 : 5, opacity: on ? 1 : 0.85 });
  if (on) route.bringToFront();
}

function drawPlan() {
  if (!cc) return;
  const L = window.L;
  cc.clear("plan");
  planRoutes.length = 0;
  if (state.plan?.status !== "proposed") return;
  state.plan.lines.forEach((line, i) => {
    const route = L.polyline(latlngs(line.route.coordinates), {
      color: ROUTE_COLOURS[i % ROUTE_COLOURS.length],
      weight: 5,
      opacity: 0.85,
      dashArray: "10 6",
      className: "cc-plan-route",
    });
    tip(route, [`${i + 1}. ${depotName(line.depot)} → ${communityName(line.community)}`, `${itemName(line.item)} × ${line.quantity}`, `${t("command.plan.eta")} ${minutes(line.eta_s)}`]);
    cc.layer("plan").addLayer(route);
    planRoutes.push(route);
  });
}

const transferMarkers = new Map(); // task id -> [marker, route coordinates, task]
// task id -> its GPS fixes by instant and place: fetched once and heard live, in whatever
// order those arrive (a fix heard while the fetch is under way is kept either way)
const tracks = new Map();
const fetchedTracks = new Set();
const trackLines = new Map(); // task id -> the drawn track

// In a drill a scenario plays into, the service's "now" is the drill's simulated clock
// (its times are the scenario's, running at `speed` x wall time): deliveries move on it.
const drillClock = { sim: null, speed: 0, readAt: 0 };

async function syncDrillClock() {
  const drill = currentExercise();
  if (!drill || !["commander", "trainer"].includes(state.user?.role)) {
    drillClock.sim = null;
    return;
  }
  try {
    const play = await api(`/api/exercises/${drill.id}/play`, { exercise: false });
    const owned = play.sim_time && ["running", "finished"].includes(play.status);
    drillClock.sim = owned ? Date.parse(play.sim_time) : null;
    drillClock.speed = play.status === "running" ? Number(play.speed) || 0 : 0;
    drillClock.readAt = Date.now();
  } catch {
    drillClock.sim = null; // offline or gone: the wall clock is the best guess
  }
  showDrillClock();
}

function showDrillClock() {
  const badge = $("cc-drill-clock");
  badge.hidden = drillClock.sim == null;
  document.body.dataset.clock = drillClock.sim == null ? "wall" : "drill";
  if (drillClock.sim != null) {
    const time = fmtTime(new Date(serviceNow()).toISOString());
    badge.textContent = t("command.drill_clock", { time, speed: fmtNumber(drillClock.speed) });
  }
}

/** The service's now, as the views and tasks are timed (ms since the epoch). */
function serviceNow() {
  if (drillClock.sim == null) return Date.now();
  return drillClock.sim + (Date.now() - drillClock.readAt) * drillClock.speed;
}

/** Where a delivery is now: at its depot until picked up, then along its route by time. */
function progressOf(task) {
  const route = task.route || {};
  if (task.status !== "en_route" || !task.en_route_at) return 0;
  const total = Number(route.time_s) || 60;
  return Math.min(1, (serviceNow() - Date.parse(task.en_route_at)) / 1000 / total);
}

const FIX_FRESH_MS = 3 * 60_000; // as the service: an older fix no longer says where it is

/** The latest fix known of a task: from its view, or heard since (whichever is later,
 * so a view fetched just before a fix does not hide it). */
function latestFix(task) {
  const fixes = [...(tracks.get(task.id)?.values() || []), task.position].filter(Boolean);
  return fixes.reduce((a, b) => (Date.parse(b.at) > Date.parse(a.at) ? b : a), fixes[0] || null);
}

/** Where a delivery is drawn: at its latest GPS fix while that is fresh, else reckoned. */
function placeOf(task, coords) {
  const fix = latestFix(task);
  if (task.status === "en_route" && fix && serviceNow() - Date.parse(fix.at) < FIX_FRESH_MS) return [fix.lat, fix.lon];
  return cc.along(coords, progressOf(task));
}

function seenText(task) {
  const fix = latestFix(task);
  if (!fix || task.status !== "en_route") return null;
  const accuracy = fix.accuracy_m != null ? ` ±${fmtNumber(Math.round(fix.accuracy_m))} m` : "";
  return t("command.task.seen", { time: fmtTime(fix.at), accuracy });
}

function heard(id, fixes) {
  const known = tracks.get(id) || new Map();
  for (const f of fixes) known.set(`${Date.parse(f.at)}|${f.lat}|${f.lon}`, f);
  tracks.set(id, known);
}

function trackPoints(id) {
  const fixes = [...(tracks.get(id)?.values() || [])];
  return fixes.sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).map((f) => [f.lat, f.lon]);
}

/** The track of a vehicle seen on its way: fetched once, then grown by the feed. */
async function loadTrack(id) {
  if (fetchedTracks.has(id)) return;
  fetchedTracks.add(id);
  try {
    heard(id, await api(`/api/tasks/${id}/positions`));
    drawTrack(id);
  } catch {
    fetchedTracks.delete(id); // tried again at the next drawing
  }
}

function drawTrack(id) {
  const points = trackPoints(id);
  if (!cc || !transferMarkers.has(id) || points.length < 2) return;
  const line = trackLines.get(id);
  if (line) return void line.setLatLngs(points);
  const drawn = window.L.polyline(points, { color: "#4c1d95", weight: 3, dashArray: "2 6", opacity: 0.9, className: "cc-task-track" });
  cc.layer("transfers").addLayer(drawn);
  trackLines.set(id, drawn);
}

function drawTransfers() {
  if (!cc) return;
  const L = window.L;
  cc.clear("transfers");
  transferMarkers.clear();
  trackLines.clear();
  for (const task of state.tasks) {
    if (task.kind !== "delivery" || !ACTIVE_TASK.has(task.status) || !task.route?.coordinates?.length) continue;
    const coords = task.route.coordinates;
    cc.layer("transfers").addLayer(L.polyline(latlngs(coords), { color: "#7c3aed", weight: 3, opacity: 0.6, className: "cc-task-route" }));
    const marker = L.circleMarker(placeOf(task, coords), {
      radius: 8,
      color: "#ffffff",
      weight: 2,
      fillColor: "#7c3aed",
      fillOpacity: 1,
      className: latestFix(task) ? "cc-transfer cc-transfer-seen" : "cc-transfer",
    });
    const lines = [`#${task.id} ${taskNote(task)}`, `${communityName(task.community)} · ${t(`command.tstatus.${task.status}`)}`];
    tip(marker, [...lines, seenText(task)].filter(Boolean));
    cc.layer("transfers").addLayer(marker);
    transferMarkers.set(task.id, [marker, coords, task]);
    if (task.status === "en_route" && latestFix(task)) {
      if (task.position) heard(task.id, [task.position]);
      loadTrack(task.id);
      drawTrack(task.id);
    }
  }
}

function moveTransfers() {
  for (const [marker, coords, task] of transferMarkers.values()) {
    if (task.status === "en_route") marker.setLatLng(placeOf(task, coords));
  }
}

function drawClosures() {
  if (!cc) return;
  const L = window.L;
  cc.clear("closures");
  for (const c of state.closures) {
    if (c.kind === "edge") {
      // one road: the service sends its two ends (the road map carries no node ids)
      if (!c.line) continue;
      const road = L.polyline(latlngs(c.line), { color: "#dc2626", weight: 6, opacity: 0.9, className: "cc-closed-road cc-closed-edge" });
      tip(road, [`#${c.id} ${c.note || ""}`, t("command.closure.edge", { u: c.u, v: c.v })]);
      cc.layer("closures").addLayer(road);
      continue;
    }
    const ring = L.circle([c.lat, c.lon], {
      radius: c.radius_m,
      color: "#dc2626",
      weight: 2,
      dashArray: "4 4",
      fillColor: "#dc2626",
      fillOpacity: 0.08,
      className: "cc-closure",
    });
    tip(ring, [`#${c.id} ${c.note || ""}`, t("command.closure.roads", { n: cc.roadsNear([c.lat, c.lon], c.radius_m).length })]);
    cc.layer("closures").addLayer(ring);
    const segments = cc.roadsNear([c.lat, c.lon], c.radius_m);
    if (segments.length) {
      cc.layer("closures").addLayer(L.polyline(segments, { color: "#dc2626", weight: 6, opacity: 0.9, className: "cc-closed-road", interactive: false }));
    }
  }
}

function setPicking(on) {
  state.picking = on;
  $("cc-map").classList.toggle("picking", on);
  $("closure-pick").setAttribute("aria-pressed", String(on));
  $("cc-pick").hidden = !on;
  $("cc-pick-text").textContent = t("command.closure.picking", { radius: $("closure-radius").value });
}

async function closeAt({ lat, lon }) {
  if (!state.picking) return;
  setPicking(false);
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  const body = { near: [Number(lat.toFixed(6)), Number(lon.toFixed(6))], radius_m: Number($("closure-radius").value) || 150 };
  const note = $("closure-note").value.trim();
  if (note) body.note = note;
  try {
    const made = await api(`/api/incidents/${incidentId()}/closures`, { method: "POST", body });
    toast(t("command.closure.done", { id: made.id, n: made.rerouted_tasks.length }));
    refresh("closures", "tasks");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

// --- panels --------------------------------------------------------------------------------

function renderIncidents() {
  const select = $("cc-incident");
  clear(select);
  if (!state.incidents.length) select.append(h("option", { value: "" }, t("command.no_incident")));
  for (const i of state.incidents) {
    select.append(h("option", { value: i.id, selected: i.id === incidentId() }, `#${i.id} ${i.title} · ${t(`command.status.${i.status}`)}`));
  }
  const status = state.incident?.status;
  $("cc-incident-status").textContent = status ? `${t(`command.type.${state.incident.type}`)} · ${t(`command.level.${state.incident.level}`)}` : "";
  $("cc-respond").hidden = status !== "declared";
  $("cc-stand-down").hidden = status !== "responding";
  $("cc-declare").open = !state.incidents.length;
  const communitySelect = $("request-community");
  clear(communitySelect);
  const codes = state.incident?.communities?.length ? state.incident.communities : [...state.communities.keys()];
  codes.forEach((code) => communitySelect.append(h("option", { value: code }, communityName(code))));
  drawCommunities();
  renderDuty();
}

function renderRequests() {
  const rows = [...state.requests]
    .sort((a, b) => PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) || b.id - a.id)
    .map((r) => [
      `#${r.id}`,
      communityName(r.community),
      itemName(r.item),
      fmtNumber(r.quantity),
      prioBadge(r.priority),
      badge(t(`command.rstatus.${r.status}`), r.status === "fulfilled" ? "ok" : r.status === "unmet" ? "bad" : ""),
      fmtNumber(r.planned_qty),
      fmtNumber(r.delivered_qty),
    ]);
  const box = clear($("requests"));
  box.append(
    table(
      ["#", t("command.request.community"), t("command.request.item"), t("command.request.quantity"), t("command.request.priority"), t("command.request.status"), t("command.request.planned"), t("command.request.delivered")],
      rows,
      { numeric: [3, 6, 7] },
    ),
  );
}

function renderClosures() {
  const rows = state.closures.map((c) => [
    `#${c.id}`,
    c.lat != null
      ? t("command.closure.circle", { lat: c.lat.toFixed(5), lon: c.lon.toFixed(5), radius: Math.round(c.radius_m) })
      : t("command.closure.edge", { u: c.u, v: c.v }),
    c.note || "",
    fmtTime(c.closed_at),
    h("button", { type: "button", class: "btn", "aria-label": `${t("command.closure.reopen")} #${c.id}`, onclick: () => reopen(c.id) }, t("command.closure.reopen")),
  ]);
  clear($("closures")).append(table(["#", t("command.closures"), t("command.closure.note"), "", ""], rows));
}

async function reopen(id) {
  try {
    await api(`/api/closures/${id}/reopen`, { method: "POST" });
    toast(t("command.closure.reopened", { id }));
    refresh("closures", "tasks");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

function minutes(seconds) {
  return t("command.fig.minutes", { n: fmtNumber(Math.round(Number(seconds) / 60)) });
}

function renderPlan() {
  const box = clear($("plan"));
  const plan = state.plan;
  box.dataset.plan = plan?.id ?? "";
  if (!plan) {
    box.append(h("p", { class: "note" }, t("command.plan.none")));
    return;
  }
  box.append(
    h("h2", {}, t("command.plan.heading", { id: plan.id, status: t(`command.pstatus.${plan.status}`) })),
    h("p", { class: "note" }, t("command.plan.summary", { lines: plan.lines.length, minutes: fmtNumber(Math.round(plan.objective_s / 60)), ms: fmtNumber(Math.round(plan.runtime_ms)) })),
  );
  const proposed = plan.status === "proposed";
  const rows = plan.lines.map((line, i) => [
    String(i + 1),
    depotName(line.depot),
    communityName(line.community),
    itemName(line.item),
    proposed
      ? h("input", {
          type: "number",
          min: 0,
          max: line.quantity,
          value: line.quantity,
          inputmode: "numeric",
          "aria-label": t("command.plan.quantity_of", { line: i + 1 }),
          dataset: { line: line.id, planned: line.quantity },
          class: "plan-qty",
          oninput: markEdited,
        })
      : fmtNumber(line.quantity),
    minutes(line.eta_s),
    h("span", { class: "note" }, line.explanation),
  ]);
  const lines = table(
    [t("command.plan.line"), t("command.plan.depot"), t("command.plan.community"), t("command.plan.item"), t("command.plan.quantity"), t("command.plan.eta"), t("command.plan.explanation")],
    rows,
    { numeric: [0, 4, 5] },
  );
  lines.id = "plan-lines";
  box.append(lines);
  lines.querySelectorAll("tbody tr").forEach((row, i) => {
    row.addEventListener("mouseenter", () => highlightRoute(i, true));
    row.addEventListener("mouseleave", () => highlightRoute(i, false));
    row.addEventListener("focusin", () => highlightRoute(i, true));
    row.addEventListener("focusout", () => highlightRoute(i, false));
  });
  if (plan.unmet.length) {
    box.append(h("h3", {}, t("command.plan.unmet")));
    const unmet = table(
      ["#", t("command.plan.community"), t("command.plan.item"), t("command.request.priority"), t("command.plan.missing"), t("command.plan.reason"), t("command.plan.explanation")],
      plan.unmet.map((u) => [
        `#${u.request}`,
        communityName(u.community),
        itemName(u.item),
        prioBadge(u.priority),
        fmtNumber(u.quantity),
        badge(t(`command.reason.${u.reason}`), "bad"),
        h("span", { class: "note" }, u.explanation || ""),
      ]),
      { numeric: [4] },
    );
    unmet.id = "plan-unmet";
    box.append(unmet);
  }
  if (proposed) {
    box.append(
      h(
        "div",
        { class: "cc-actions" },
        h("button", { type: "button", class: "btn btn-primary", id: "plan-approve", onclick: () => approve(false) }, t("command.plan.approve")),
        h("button", { type: "button", class: "btn", id: "plan-approve-edited", disabled: true, onclick: () => approve(true) }, t("command.plan.approve_edited")),
        h("button", { type: "button", class: "btn btn-danger", id: "plan-reject", onclick: reject }, t("command.plan.reject")),
      ),
    );
  }
}

function edits() {
  return [...document.querySelectorAll("input.plan-qty")]
    .map((input) => ({ line: Number(input.dataset.line), quantity: Math.max(0, Math.min(Number(input.dataset.planned), Math.floor(Number(input.value) || 0))), planned: Number(input.dataset.planned) }))
    .filter((e) => e.quantity !== e.planned)
    .map(({ line, quantity }) => ({ line, quantity }));
}

function markEdited() {
  const button = $("plan-approve-edited");
  if (button) button.disabled = edits().length === 0;
}

async function makePlan() {
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  $("plan-stale").hidden = true;
  const button = $("plan-make");
  button.disabled = true;
  try {
    state.plan = await api(`/api/incidents/${incidentId()}/plans`, { method: "POST", body: { policy: $("plan-policy").value } });
    toast(t("command.plan.new", { id: state.plan.id }));
    renderPlan();
    drawPlan();
    showTab("plan");
  } catch (error) {
    toast(problemText(error), { bad: true });
  } finally {
    button.disabled = false;
  }
}

async function approve(edited) {
  const plan = state.plan;
  const body = edited ? { lines: edits() } : {};
  try {
    await api(`/api/plans/${plan.id}/approve`, { method: "POST", body });
    toast(t("command.plan.approved", { id: plan.id }));
    refresh("plan", "tasks", "requests", "summary", "stock");
  } catch (error) {
    if (error.status === 409) {
      $("plan-stale").hidden = false;
      $("plan-replan").focus();
    } else toast(problemText(error), { bad: true });
  }
}

async function reject() {
  const plan = state.plan;
  try {
    await api(`/api/plans/${plan.id}/reject`, { method: "POST", body: {} });
    toast(t("command.plan.rejected", { id: plan.id }));
    refresh("plan");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

/** A delivery's note ("12 x WATER from D110101000", written by the service) in names. */
function taskNote(task) {
  const m = /^(\d+) x (\S+) from (\S+)$/.exec(task.note || "");
  return m ? `${itemName(m[2])} × ${m[1]} ← ${depotName(m[3])}` : task.note || "";
}

function renderTasks() {
  const rows = [...state.tasks]
    .sort((a, b) => ACTIVE_TASK.has(b.status) - ACTIVE_TASK.has(a.status) || a.id - b.id)
    .map((task) => [
      `#${task.id}`,
      t(`command.kind.${task.kind}`),
      communityName(task.community),
      badge(t(`command.tstatus.${task.status}`), task.status === "done" ? "ok" : task.status === "failed" ? "bad" : ""),
      `${task.assignees.length}/${task.people_needed}`,
      taskNote(task),
      task.status === "open" || task.status === "assigned"
        ? h("button", { type: "button", class: "btn", onclick: () => suggest(task) }, t("command.task.suggest"))
        : "",
    ]);
  const wrap = table(["#", t("command.task.kind"), t("command.request.community"), t("command.task.status"), t("command.task.people"), t("command.closure.note"), ""], rows, { numeric: [4] });
  wrap.id = "tasks-table";
  clear($("tasks")).append(wrap);
  if (state.suggestions && !state.tasks.some((x) => x.id === state.suggestions.task.id && ACTIVE_TASK.has(x.status))) {
    state.suggestions = null;
    clear($("suggestions"));
  }
}

async function suggest(task) {
  try {
    const offer = await api(`/api/tasks/${task.id}/suggestions`);
    state.suggestions = { task, offer };
    renderSuggestions();
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

function renderSuggestions() {
  const box = clear($("suggestions"));
  if (!state.suggestions) return;
  const { task, offer } = state.suggestions;
  box.append(h("h3", {}, t("command.task.suggestions", { id: task.id, wanted: offer.wanted, staffed: offer.staffed })));
  const rows = offer.suggestions.map((s, i) => [
    h("input", { type: "checkbox", class: "pick-person", value: s.person_id, checked: i < offer.wanted, "aria-label": t("command.task.choose", { name: s.name }) }),
    s.name,
    communityName(s.community || ""),
    s.skills.map(skillName).join("、"),
    t("command.fig.minutes", { n: fmtNumber(Math.round(s.travel_min)) }),
    t(`command.pref.${s.preferred}`),
    fmtNumber(s.hours_today),
  ]);
  box.append(table(["", t("command.name"), t("command.request.community"), t("command.on_duty.skills"), t("command.task.travel"), t("command.task.preferred"), t("command.task.hours")], rows, { numeric: [4, 6] }));
  for (const s of offer.short) box.append(h("p", { class: "note" }, t("command.task.short", { n: s.missing, reason: s.explanation })));
  if (offer.suggestions.length) {
    box.append(h("div", { class: "cc-actions" }, h("button", { type: "button", class: "btn btn-primary", id: "assign", onclick: assign }, t("command.task.assign"))));
  }
}

async function assign() {
  const { task } = state.suggestions;
  const people = [...document.querySelectorAll("input.pick-person:checked")].map((x) => Number(x.value));
  if (!people.length) return;
  const current = state.tasks.find((x) => x.id === task.id) || task;
  try {
    await api(`/api/tasks/${task.id}/assign`, { method: "POST", body: { version: current.version, people } });
    toast(t("command.task.assigned", { id: task.id, n: people.length }));
    state.suggestions = null;
    clear($("suggestions"));
    refresh("tasks", "summary");
  } catch (error) {
    toast(problemText(error), { bad: true });
    refresh("tasks");
  }
}

function renderDuty() {
  const involved = new Set(state.incident?.communities || []);
  const onlyIncident = $("duty-scope").checked && involved.size;
  const rows = state.onDuty
    .filter((c) => (onlyIncident ? involved.has(c.community) : c.on_duty > 0))
    .sort((a, b) => b.on_duty - a.on_duty)
    .slice(0, 20)
    .map((c) => [
      c.name,
      state.streets.get(c.street)?.name || c.street,
      fmtNumber(c.on_duty),
      Object.entries(c.skills)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([skill, n]) => `${skillName(skill)} ${n}`)
        .join(" · "),
    ]);
  clear($("on-duty")).append(table([t("command.request.community"), t("nav.squad"), t("command.fig.on_duty"), t("command.on_duty.skills")], rows, { numeric: [2] }));
}

function renderAlerts() {
  const rows = state.alerts.slice(0, 200).map((a) => [
    badge(t(`command.alert.${a.kind}`), a.kind === "below_standard" ? "warn" : "bad"),
    depotName(a.depot),
    itemName(a.item),
    fmtNumber(a.qty),
    a.minimum != null ? fmtNumber(a.minimum) : "",
    a.days_left != null ? `${a.lot || ""} ${t("command.alert.days", { n: a.days_left })}` : a.lot || "",
  ]);
  clear($("alerts")).append(table([t("command.alert.kind"), t("command.plan.depot"), t("command.plan.item"), t("command.alert.qty"), t("command.alert.minimum"), t("command.alert.detail")], rows, { numeric: [3, 4] }));
  $("tab-alerts-n").textContent = state.alerts.length ? String(state.alerts.length) : "";
}

function renderFigures() {
  const s = state.summary;
  $("fig-fill").textContent = s && s.requests ? `${Math.round(s.fill_rate * 100)}%` : "–";
  $("fig-first").textContent = s?.first_delivery_minutes != null ? t("command.fig.minutes", { n: fmtNumber(Math.round(s.first_delivery_minutes * 10) / 10) }) : "–";
  $("fig-tasks").textContent = s ? `${s.tasks_done}/${s.tasks}` : "–";
  const open = clear($("fig-open"));
  const counts = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  state.requests.filter((r) => r.status === "open").forEach((r) => (counts[r.priority] += 1));
  PRIORITIES.forEach((p) => open.append(h("span", { class: `prio badge prio-${p}`, dataset: { priority: p } }, `${t(`command.priority.${p}`)} ${counts[p]}`)));
  $("fig-alerts").textContent = fmtNumber(state.alerts.filter((a) => a.kind === "below_standard").length);
  $("fig-duty").textContent = fmtNumber(state.onDuty.reduce((n, c) => n + c.on_duty, 0));
}

// --- the live feed -------------------------------------------------------------------------

function describe(event) {
  const d = event.data || {};
  const kind = event.kind || "";
  if (kind === "request.created") return t("command.ev.request.created", { community: communityName(event.community), item: itemName(d.item), quantity: d.quantity });
  if (kind === "request.delivered") return t("command.ev.request.delivered", { request: d.request, delivered: d.delivered });
  if (kind.startsWith("plan.")) return t(`command.ev.${kind}`, { plan: d.plan });
  if (kind.startsWith("task.") && d.status) return t("command.ev.task", { task: d.task, kind: t(`command.kind.${d.kind}`), status: t(`command.tstatus.${d.status}`) });
  if (kind === "road.closed" || kind === "road.opened") return t(`command.ev.${kind}`, { closure: d.closure });
  if (kind === "stock.alert" || kind === "stock.restored") return t(`command.ev.${kind}`, { depot: depotName(d.depot), item: itemName(d.item) });
  if (kind.startsWith("incident.") && kind !== "incident.community") return t("command.ev.incident", { incident: d.incident, status: t(`command.status.${kind.slice(9)}`) });
  return null;
}

function logEvent(event) {
  const text = describe(event);
  if (!text) return;
  const list = $("events");
  list.prepend(h("li", { class: "fresh", dataset: { kind: event.kind } }, h("time", {}, fmtTime(event.at)), text));
  while (list.children.length > 200) list.lastChild.remove();
}

function onEvent(event) {
  const kind = event.kind || "";
  const d = event.data || {};
  const mine = d.incident == null || d.incident === incidentId();
  logEvent(event);
  if (kind === "task.position") return seenAt(d);
  if (kind.startsWith("incident.")) refresh("incidents", ...INCIDENT_VIEWS);
  else if (kind.startsWith("request.")) mine && refresh("requests", "summary");
  else if (kind.startsWith("plan.")) mine && refresh("plan", "requests");
  else if (kind.startsWith("task.")) mine && refresh("tasks", "summary", ...(kind === "task.done" || kind === "task.failed" ? ["requests"] : []));
  else if (kind.startsWith("road.")) refresh("closures");
  else if (kind.startsWith("stock.") || kind.startsWith("depot.")) refresh("stock");
  else if (kind.startsWith("duty.")) refresh("duty");
  else if (kind === "community.moved" && state.communities.has(d.code)) {
    Object.assign(state.communities.get(d.code), { lat: d.lat, lon: d.lon, approximate: false });
    drawCommunities();
    drawRequests();
  }
  if (kind === "task.done") toast(t("command.task.done_event", { id: d.task }));
}

/** A fix from the feed: the vehicle moves to it at once (no reload of every task). */
function seenAt(fix) {
  heard(fix.task, [fix]);
  const task = state.tasks.find((x) => x.id === fix.task);
  if (!task) return; // drawn when the tasks arrive, its track fetched then
  loadTrack(task.id);
  drawTrack(task.id);
  const drawn = transferMarkers.get(task.id);
  if (!drawn) return;
  const [marker, coords] = drawn;
  marker.setLatLng(placeOf(task, coords));
  marker.getElement?.()?.classList.add("cc-transfer-seen");
}

function liveStatus(status) {
  const mark = $("cc-live");
  mark.textContent = status === "open" ? t("command.live.on") : t("command.live.off");
  mark.className = `badge ${status === "open" ? "ok" : "bad"}`;
  mark.dataset.state = status;
}

// --- wiring --------------------------------------------------------------------------------

function showTab(name) {
  for (const tab of document.querySelectorAll('.cc-side [role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
}

function fillForms() {
  TYPES.forEach((x) => $("declare-type").append(h("option", { value: x }, t(`command.type.${x}`))));
  LEVELS.forEach((x) => $("declare-level").append(h("option", { value: x, selected: x === "III" }, t(`command.level.${x}`))));
  const byStreet = new Map();
  for (const c of state.communities.values()) {
    if (!byStreet.has(c.street)) byStreet.set(c.street, []);
    byStreet.get(c.street).push(c);
  }
  for (const [street, list] of byStreet) {
    $("declare-communities").append(h("optgroup", { label: state.streets.get(street)?.name || street }, list.map((c) => h("option", { value: c.code }, c.name + (c.approximate ? " *" : "")))));
  }
  for (const item of state.items.values()) $("request-item").append(h("option", { value: item.code }, `${itemName(item.code)} (${item.code})`));
  PRIORITIES.forEach((x) => $("request-priority").append(h("option", { value: x, selected: x === "normal" }, t(`command.priority.${x}`))));
  SOURCES.forEach((x) => $("request-source").append(h("option", { value: x }, t(`command.source.${x}`))));
}

async function declare(event) {
  event.preventDefault();
  const communities = [...$("declare-communities").selectedOptions].map((o) => o.value);
  const body = {
    type: $("declare-type").value,
    level: $("declare-level").value,
    title: $("declare-title").value.trim(),
    communities,
    door_checks: $("declare-door-checks").checked,
  };
  try {
    const made = await api("/api/incidents", { method: "POST", body });
    toast(t("command.declared", { id: made.id }));
    localStorage.setItem(INCIDENT_KEY, String(made.id));
    event.target.reset();
    await run(loadIncidents);
    $("cc-declare").open = false;
    refresh(...INCIDENT_VIEWS);
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

async function addRequest(event) {
  event.preventDefault();
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  const body = {
    community: $("request-community").value,
    item: $("request-item").value,
    quantity: Number($("request-quantity").value),
    priority: $("request-priority").value,
    source: $("request-source").value,
  };
  try {
    const made = await api(`/api/incidents/${incidentId()}/requests`, { method: "POST", body });
    toast(t("command.request.added", { id: made.id }));
    refresh("requests", "summary");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

/** Respond or stand down. Standing down asks first (the button sits where 开始响应 was);
 * with work under way the service lists it, and the commander may cancel it with a reason
 * (its stock returns to its depot) or leave the incident responding. */
async function advance(step, body) {
  if (step === "stand-down" && !body && !window.confirm(t("command.stand_down.confirm"))) return;
  try {
    await api(`/api/incidents/${incidentId()}/${step}`, { method: "POST", body });
    refresh("incidents", ...INCIDENT_VIEWS);
  } catch (error) {
    if (error?.problem?.code === "incident.open_work" && !body) {
      const reason = window.prompt(`${problemText(error)}\n\n${t("command.cancel_open.reason")}`);
      if (reason && reason.trim()) await advance(step, { cancel_open: true, reason: reason.trim() });
      return;
    }
    toast(problemText(error), { bad: true });
  }
}

function wire() {
  for (const tab of document.querySelectorAll('.cc-side [role="tab"]')) tab.addEventListener("click", () => showTab(tab.id.slice(4)));
  $("cc-incident").addEventListener("change", (e) => {
    const id = Number(e.target.value);
    state.incident = state.incidents.find((i) => i.id === id) || null;
    localStorage.setItem(INCIDENT_KEY, String(id));
    state.suggestions = null;
    clear($("suggestions"));
    renderIncidents();
    renderDuty();
    refresh(...INCIDENT_VIEWS);
  });
  $("declare-form").addEventListener("submit", declare);
  $("request-form").addEventListener("submit", addRequest);
  $("plan-make").addEventListener("click", makePlan);
  $("plan-replan").addEventListener("click", makePlan);
  $("closure-pick").addEventListener("click", () => setPicking(!state.picking));
  $("cc-pick-cancel").addEventListener("click", () => setPicking(false));
  $("closure-radius").addEventListener("input", () => state.picking && setPicking(true));
  $("cc-respond").addEventListener("click", () => advance("respond"));
  $("cc-stand-down").addEventListener("click", () => advance("stand-down"));
  $("duty-scope").addEventListener("change", renderDuty);
  $("declare-communities").addEventListener("change", drawCommunities);
  $("cc-declare").addEventListener("toggle", drawCommunities);
  document.addEventListener("keydown", (e) => e.key === "Escape" && state.picking && setPicking(false));
}

async function start() {
  state.user = await me();
  $("cc-role-note").hidden = state.user.role === "commander";
  wire();
  await run(loadPlaces);
  fillForms();
  cc = createMap($("cc-map"), {
    layers: [
      ["communities", t("command.layer.communities")],
      ["duty", t("command.layer.duty")],
      ["requests", t("command.layer.requests")],
      ["closures", t("command.layer.closures")],
      ["plan", t("command.layer.plan")],
      ["transfers", t("command.layer.transfers")],
      ["depots", t("command.layer.depots")],
    ],
  });
  cc.onClick(closeAt);
  const base = cc.loadBase().then((network) => {
    document.body.dataset.roads = network?.synthetic ? "synthetic" : "real";
    drawClosures(); // closed roads need the road lines
  });
  await run(loadIncidents);
  await Promise.all([base.catch((e) => toast(problemText(e), { bad: true })), ...["stock", "duty", "closures", ...INCIDENT_VIEWS].map((n) => run(LOADERS[n]))]);
  subscribe(onEvent, { onReset: () => refresh(...Object.keys(LOADERS)), onStatus: liveStatus });
  await syncDrillClock();
  setInterval(syncDrillClock, 5000);
  setInterval(showDrillClock, 1000);
  window.addEventListener("exercise-changed", syncDrillClock);
  window.addEventListener("exercise-changed", () => {
    tracks.clear(); // task ids of another world are other tasks
    fetchedTracks.clear();
  });
  setInterval(moveTransfers, 1000);
  document.body.dataset.ready = "true";
}

start();
