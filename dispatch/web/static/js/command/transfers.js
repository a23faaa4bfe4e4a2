// Deliveries on the map: where each vehicle is (its fresh GPS fix, else reckoned along its
// route on the service's clock, which is a drill's simulated clock in a played drill) and
// the track it has driven; a delivery run (one vehicle, several stops) with its stops and
// its vehicle labelled with its plate, its task and the stop it heads for.
import { api, currentExercise } from "/static/js/api.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, ACTIVE_TASK, cc, communityName, itemName, S, state, taskNote } from "/static/js/command/state.js";
import { latlngs, tip } from "/static/js/command/layers.js";
import { dropLabels, dropSymbols, schedulePlace, setLabel, setSymbol } from "/static/js/command/labels.js";

const RADIUS = 8; // a vehicle's dot, before the screen's scale

/** What a vehicle on the map says: its task, load and where it goes ("#12 饮用水 30 → 多福巷社区"). */
function labelOf(task) {
  const m = /^(\d+) x (\S+) from (\S+)$/.exec(task.note || "");
  const load = m ? { item: itemName(m[2]), qty: m[1] } : { item: t(`command.kind.${task.kind}`), qty: "" };
  return t("command.transfer_label", { id: task.id, ...load, community: communityName(task.community) }).replace(/\s+/g, " ");
}

/** The vehicle's label and the room its dot takes, where the dot now is. */
function labelAt(task, place) {
  const r = RADIUS * S;
  setSymbol(`transfer:${task.id}`, place, r + 1);
  setLabel(`transfer:${task.id}`, place, task.vehicle ? runLabel(task) : labelOf(task), { kind: "transfer", priority: 50, gap: r + 4, owner: "transfers", stack: true });
}

const transferMarkers = new Map(); // task id -> [marker, route coordinates, task]
// task id -> its GPS fixes by instant and place: fetched once and heard live, in whatever
// order those arrive (a fix heard while the fetch is under way is kept either way)
export const tracks = new Map();
export const fetchedTracks = new Set();
const trackLines = new Map(); // task id -> the drawn track

// In a drill a scenario plays into, the service's "now" is the drill's simulated clock
// (its times are the scenario's, running at `speed` x wall time): deliveries move on it.
const drillClock = { sim: null, speed: 0, readAt: 0 };

export async function syncDrillClock() {
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

export function showDrillClock() {
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

/** Where a delivery is drawn: at its latest GPS fix while that is fresh, else reckoned
 * (a run by its stops' times, any other delivery along its route). */
function placeOf(task, coords) {
  const fix = latestFix(task);
  if (task.status === "en_route" && fix && serviceNow() - Date.parse(fix.at) < FIX_FRESH_MS) return [fix.lat, fix.lon];
  return task.vehicle ? runPlace(task, coords) : cc.along(coords, progressOf(task));
}

// --- delivery runs: one vehicle, several stops -------------------------------------------

/** A run's line: its depot, then each stop's community in driving order, as [lon, lat]
 * (the legs are drawn straight: a run keeps its stops' times, not each leg's roads). */
function runLine(task) {
  const depot = state.depots.get(task.vehicle.depot);
  const points = [depot, ...task.stops.map((s) => state.communities.get(s.community))];
  return points.every((p) => p && p.lat != null) ? points.map((p) => [p.lon, p.lat]) : [];
}

/** Where a run is by the clock: at the depot until it leaves, at a stop while it unloads,
 * else on the leg it is driving, the share of the leg's time gone by. */
function runPlace(task, coords) {
  const at = (i) => [coords[i][1], coords[i][0]];
  if (task.status !== "en_route") return at(0);
  const now = serviceNow();
  let left = Date.parse(task.en_route_at || task.stops[0]?.depart_at || "") || now;
  for (const [i, stop] of task.stops.entries()) {
    const eta = Date.parse(stop.eta_at);
    if (stop.status !== "done" && now < eta) {
      const share = Math.max(0, Math.min(1, (now - left) / Math.max(1, eta - left)));
      return cc.along([coords[i], coords[i + 1]], share);
    }
    left = Math.max(Date.parse(stop.depart_at), Date.parse(stop.done_at || "") || 0);
    if (stop.status !== "done" && now < left) return at(i + 1);
  }
  return at(coords.length - 1);
}

/** What a run's vehicle says on the map: its plate, its task, the stop it heads for. */
function runLabel(task) {
  const next = task.stops.find((s) => s.status !== "done");
  const done = task.stops.filter((s) => s.status === "done").length;
  const where = next ? next.community_name : t("command.map_run.back");
  return t("command.map_run.label", { code: task.vehicle.code, id: task.id, where, done, n: task.stops.length });
}

function drawRun(task) {
  const L = window.L;
  const coords = runLine(task);
  if (coords.length < 2) return;
  cc.layer("transfers").addLayer(L.polyline(latlngs(coords), { color: "#0f766e", weight: 3, opacity: 0.7, dashArray: "8 6", className: "cc-run-route" }));
  for (const [i, stop] of task.stops.entries()) {
    const [lon, lat] = coords[i + 1];
    const dot = L.circleMarker([lat, lon], { radius: 5 * S, color: "#0f766e", weight: 2 * S, fillColor: stop.status === "done" ? "#0f766e" : "#ffffff", fillOpacity: 1, className: "cc-run-stop" });
    tip(dot, [t("command.map_run.stop", { seq: stop.seq, community: stop.community_name, time: fmtTime(stop.eta_at) })]);
    cc.layer("transfers").addLayer(dot);
  }
  const place = placeOf(task, coords);
  const marker = L.circleMarker(place, { radius: RADIUS * S, color: "#ffffff", weight: 2 * S, fillColor: "#0f766e", fillOpacity: 1, className: "cc-transfer cc-run" });
  tip(marker, [runLabel(task), t(`command.tstatus.${task.status}`), seenText(task)].filter(Boolean));
  cc.layer("transfers").addLayer(marker);
  transferMarkers.set(task.id, [marker, coords, task]);
  labelAt(task, place);
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

export function drawTransfers() {
  if (!cc) return;
  const L = window.L;
  cc.clear("transfers");
  transferMarkers.clear();
  trackLines.clear();
  dropSymbols("transfer:");
  for (const task of state.tasks) {
    if (task.vehicle && ACTIVE_TASK.has(task.status)) {
      drawRun(task);
      continue;
    }
    if (task.kind !== "delivery" || !ACTIVE_TASK.has(task.status) || !task.route?.coordinates?.length) continue;
    const coords = task.route.coordinates;
    cc.layer("transfers").addLayer(L.polyline(latlngs(coords), { color: "#7c3aed", weight: 3, opacity: 0.6, className: "cc-task-route" }));
    const place = placeOf(task, coords);
    const marker = L.circleMarker(place, {
      radius: RADIUS * S,
      color: "#ffffff",
      weight: 2 * S,
      fillColor: "#7c3aed",
      fillOpacity: 1,
      className: latestFix(task) ? "cc-transfer cc-transfer-seen" : "cc-transfer",
    });
    const lines = [`#${task.id} ${taskNote(task)}`, `${communityName(task.community)} · ${t(`command.tstatus.${task.status}`)}`];
    tip(marker, [...lines, seenText(task)].filter(Boolean));
    cc.layer("transfers").addLayer(marker);
    transferMarkers.set(task.id, [marker, coords, task]);
    labelAt(task, place);
    if (task.status === "en_route" && latestFix(task)) {
      if (task.position) heard(task.id, [task.position]);
      loadTrack(task.id);
      drawTrack(task.id);
    }
  }
  dropLabels("transfer", new Set([...transferMarkers.keys()].map((id) => `transfer:${id}`)));
}

export function moveTransfers() {
  let moved = false;
  for (const [marker, coords, task] of transferMarkers.values()) {
    if (task.status !== "en_route") continue;
    const place = placeOf(task, coords);
    marker.setLatLng(place);
    labelAt(task, place);
    moved = true;
  }
  if (moved) schedulePlace();
}

/** A fix from the feed: the vehicle moves to it at once (no reload of every task). */
export function seenAt(fix) {
  heard(fix.task, [fix]);
  const task = state.tasks.find((x) => x.id === fix.task);
  if (!task) return; // drawn when the tasks arrive, its track fetched then
  loadTrack(task.id);
  drawTrack(task.id);
  const drawn = transferMarkers.get(task.id);
  if (!drawn) return;
  const [marker, coords] = drawn;
  const place = placeOf(task, coords);
  marker.setLatLng(place);
  labelAt(task, place);
  marker.getElement?.()?.classList.add("cc-transfer-seen");
}
