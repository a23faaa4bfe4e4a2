// Loading the command center's views from the API, and the live feed that says which of
// them changed: each loader fills the state and redraws its panel and map layer.
import { api } from "/static/js/api.js";
import { h, problemText, toast } from "/static/js/dom.js";
import { fmtTime, t } from "/static/js/i18n.js";
import { $, communityName, depotName, INCIDENT_KEY, incidentId, itemName, may, state } from "/static/js/command/state.js";
import { drawClosures, drawCommunities, drawDepots, drawPlan, drawRequests } from "/static/js/command/layers.js";
import { drawTransfers, seenAt } from "/static/js/command/transfers.js";
import { refreshObjective } from "/static/js/command/review.js";
import { loadHotline } from "/static/js/command/hotline.js";
import { describePreparedness, loadCallouts, preparednessEvent } from "/static/js/command/callouts.js";
import { loadShelters } from "/static/js/command/shelters.js";
import { ticketNumber } from "/static/js/tickets.js";
import { renderAlerts, renderClosures, renderDuty, renderFigures, renderIncidents, renderPlan, renderRequests, renderTasks } from "/static/js/command/panels.js";

// --- loading -------------------------------------------------------------------------------

export async function loadPlaces() {
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

export async function loadIncidents() {
  state.incidents = await api("/api/incidents");
  // `?incident=N` pins the incident (a wall shows one without anyone choosing it there)
  const pinned = Number(new URLSearchParams(location.search).get("incident"));
  const wanted = pinned || Number(localStorage.getItem(INCIDENT_KEY)) || null;
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
  refreshObjective();
}

async function loadPlan() {
  // a role that may not read plans (a street leader) is not shown one, nor refused one
  const plans = incidentId() && may("plans.read") ? await api(`/api/incidents/${incidentId()}/plans`) : [];
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

export const LOADERS = {
  incidents: loadIncidents,
  requests: loadRequests,
  plan: loadPlan,
  tasks: loadTasks,
  summary: loadSummary,
  closures: loadClosures,
  stock: loadStock,
  duty: loadDuty,
  hotline: loadHotline,
  callouts: loadCallouts,
  shelters: loadShelters,
};
export const INCIDENT_VIEWS = ["requests", "plan", "tasks", "summary", "callouts"];

let pending = new Set();
let timer = null;

/** Reload these views soon; bursts of events (a plan approval emits dozens) become one load. */
export function refresh(...names) {
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

export async function run(loader) {
  try {
    await loader();
  } catch (error) {
    if (error instanceof TypeError) return; // offline: the live feed reconnects and reloads
    toast(problemText(error), { bad: true });
  }
}

// --- the live feed -------------------------------------------------------------------------

function describe(event) {
  const d = event.data || {};
  const kind = event.kind || "";
  if (kind === "request.created") return t("command.ev.request.created", { community: communityName(event.community), item: itemName(d.item), quantity: d.quantity });
  if (kind === "request.delivered") return t("command.ev.request.delivered", { request: d.request, delivered: d.delivered });
  if (kind.startsWith("plan.")) return t(`command.ev.${kind}`, { plan: d.plan });
  if (kind === "task.rerouted" && d.stops) return t("command.ev.run_rerouted", { task: d.task, vehicle: d.vehicle, n: d.stops.length, lost: d.unreachable || 0 });
  if (kind.startsWith("task.") && d.status) return t("command.ev.task", { task: d.task, kind: t(`command.kind.${d.kind}`), status: t(`command.tstatus.${d.status}`) });
  if (kind === "road.closed" || kind === "road.opened") return t(`command.ev.${kind}`, { closure: d.closure });
  if (kind === "stock.alert" || kind === "stock.restored") return t(`command.ev.${kind}`, { depot: depotName(d.depot), item: itemName(d.item) });
  if (kind.startsWith("incident.") && kind !== "incident.community") return t("command.ev.incident", { incident: d.incident, status: t(`command.status.${kind.slice(9)}`) });
  return null;
}

/** A ticket's event: what happened, then its number (an identifier, shown as code). */
function describeTicket(event) {
  const d = event.data || {};
  const kind = event.kind.slice("hotline.".length);
  let text;
  if (kind === "tickets_imported") return t("command.ev.hotline_imported", { n: d.rows });
  if (kind === "ticket_received") text = t("command.ev.hotline_created");
  else if (kind === "ticket_overdue") text = t("command.ev.hotline_overdue", { which: t(`hotline.which.${d.deadline}`) });
  else if (kind === "ticket_nearly_due") text = t("command.ev.hotline_nearly_due", { which: t(`hotline.which.${d.deadline}`), n: d.minutes_left });
  else if (kind === "reply_reminder") text = t("command.ev.hotline_reminder");
  else if (kind.startsWith("ticket_") && d.status) text = t("command.ev.hotline", { step: t(`hotline.step.${kind.slice(7)}`), status: t(`hotline.status.${d.status}`) });
  return text && d.number ? [text, " ", ticketNumber(d)] : null;
}

function logEvent(event) {
  const text = (event.kind || "").startsWith("hotline.") ? describeTicket(event) : describePreparedness(event) ?? describe(event);
  if (!text) return;
  const list = $("events");
  list.prepend(h("li", { class: "fresh", dataset: { kind: event.kind } }, h("time", {}, fmtTime(event.at)), text));
  while (list.children.length > 200) list.lastChild.remove();
}

export function onEvent(event) {
  const kind = event.kind || "";
  const d = event.data || {};
  const mine = d.incident == null || d.incident === incidentId();
  logEvent(event);
  if (preparednessEvent(event, refresh)) return;
  if (kind === "task.position") return seenAt(d);
  if (kind.startsWith("incident.")) refresh("incidents", ...INCIDENT_VIEWS);
  else if (kind.startsWith("request.")) mine && refresh("requests", "summary");
  else if (kind.startsWith("plan.")) mine && refresh("plan", "requests");
  else if (kind.startsWith("task.")) mine && refresh("tasks", "summary", ...(kind === "task.done" || kind === "task.failed" ? ["requests"] : []));
  else if (kind.startsWith("road.")) refresh("closures");
  else if (kind.startsWith("stock.") || kind.startsWith("depot.")) refresh("stock");
  else if (kind.startsWith("duty.")) refresh("duty");
  else if (kind.startsWith("hotline.")) refresh("hotline");
  else if (kind === "community.moved" && state.communities.has(d.code)) {
    Object.assign(state.communities.get(d.code), { lat: d.lat, lon: d.lon, approximate: false });
    drawCommunities();
    drawRequests();
  }
  if (kind === "task.done") toast(t("command.task.done_event", { id: d.task }));
}

export function liveStatus(status) {
  const mark = $("cc-live");
  mark.textContent = status === "open" ? t("command.live.on") : t("command.live.off");
  mark.className = `badge ${status === "open" ? "ok" : "bad"}`;
  mark.dataset.state = status;
}
