// Reading from the API (through the service worker, noting answers served from its cache),
// choosing the street, loading places, stock and everything at once, and the live feed
// that says when to reload.
import { api, ApiError } from "/static/js/api.js";
import { clear, h, problemText } from "/static/js/dom.js";
import { fmtTime, t } from "/static/js/i18n.js";
import { subscribe } from "/static/js/live.js";
import { $, can, state, STREET_CHOICE } from "/static/js/squad/state.js";
import { fillRecordForms } from "/static/js/squad/actions.js";
import { loadPeople, renderAlerts, renderStock, renderSummary } from "/static/js/squad/panels.js";
import { loadTasks } from "/static/js/squad/tasks.js";
import { loadTickets } from "/static/js/squad/hotline.js";
import { calloutEvent, loadCallouts } from "/static/js/squad/callouts.js";
import { loadShelters, shelterEvent } from "/static/js/squad/shelters.js";
import { loadActivities } from "/static/js/squad/activities.js";

// --- reading: the API through the service worker, noting answers served from its cache ---

export async function read(path) {
  return (await readCopy(path)).body;
}

/** `read`, saying whether the answer is the service worker's stored copy (`stored`: when
 * it was stored) rather than the service's answer now. */
export async function readCopy(path) {
  const response = await api(path, { raw: true });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body || {});
  const stored = response.headers.get("X-Dispatch-Stored-At");
  if (stored) noteStale(stored); // only copies from the worker's cache carry the stamp
  return { body, stored };
}

function noteStale(iso) {
  if (!state.staleSince || iso < state.staleSince) state.staleSince = iso;
  const box = $("squad-stale");
  box.textContent = t("squad.stale", { time: fmtTime(state.staleSince) });
  box.hidden = false;
}

export function clearStale() {
  state.staleSince = null;
  $("squad-stale").hidden = true;
}

/** A section that could not load says why, in place (offline without a copy, refused...). */
export function failed(box, error) {
  clear(box).append(
    h("p", { class: "error" }, error instanceof TypeError ? t("squad.offline_no_copy") : problemText(error)),
  );
}

// --- who and where ---------------------------------------------------------------------

export async function chooseStreet() {
  const user = state.user;
  try {
    for (const street of await read("/api/streets")) state.streets.set(street.code, street);
  } catch (error) {
    if (user.role !== "street_leader") throw error; // a leader's street is known without it
  }
  if (user.role === "street_leader") return user.street;
  if (user.community) {
    state.community = user.community;
    const community = await read(`/api/communities/${user.community}`);
    return community.street;
  }
  const select = $("street-select");
  clear(select);
  for (const street of state.streets.values()) select.append(h("option", { value: street.code }, street.name));
  const saved = localStorage.getItem(STREET_CHOICE);
  const street = state.streets.has(saved) ? saved : select.options[0]?.value;
  select.value = street;
  $("street-pick").hidden = false;
  return street;
}

async function loadPlaces() {
  const street = state.street;
  const [depots, communities, items] = await Promise.all([
    read("/api/depots"),
    read(`/api/communities?street=${street}`),
    read("/api/stock/items"),
  ]);
  state.allDepots = new Map(depots.map((d) => [d.code, d]));
  state.depots = depots.filter((d) => d.street === street);
  state.communities = new Map(communities.map((c) => [c.code, c]));
  state.items = new Map(items.map((i) => [i.code, i]));
  // the user's own scope: a community-scoped user's community (with its street), else the street
  const streetName = state.streets.get(street)?.name || street;
  const own = state.community && state.communities.get(state.community)?.name;
  $("squad-street").textContent = own ? `${own} · ${streetName}` : streetName;
}

let reloadTimer = null;
export function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    if (navigator.onLine) clearStale();
    loadStock();
    loadTasks();
    loadTickets();
    loadActivities();
  }, 150);
}

// --- stock -----------------------------------------------------------------------------

export async function loadStock() {
  if (!can("stock.read")) {
    $("tab-stock").hidden = true;
    return;
  }
  try {
    const street = state.street;
    const asked = Date.now();
    const [stock, alerts, summary] = await Promise.all([
      read(`/api/stock/?street=${street}`),
      read(`/api/stock/alerts?street=${street}`),
      read(`/api/stock/summary?street=${street}`),
    ]);
    state.stock = stock;
    state.alerts = alerts;
    state.justSent = state.justSent.filter((e) => e.sentAt >= asked);
    renderStock();
    renderAlerts();
    renderSummary(summary);
    fillRecordForms();
  } catch (error) {
    failed($("stock-depots"), error);
  }
}

// --- everything, and the live feed ------------------------------------------------------

export async function loadAll() {
  if (navigator.onLine) clearStale();
  try {
    await loadPlaces();
  } catch (error) {
    failed($("stock-depots"), error); // tasks and people may still have a copy
  }
  await Promise.all([loadStock(), loadTasks(), loadPeople(), loadTickets(), loadShelters(), loadCallouts(), loadActivities()]);
  fillRecordForms();
}

export function listen() {
  const kinds = /^(stock\.|task\.|duty\.|plan\.approved|hotline\.|activity\.)/;
  subscribe((event) => {
    calloutEvent(event);
    shelterEvent(event);
    if (!kinds.test(event.kind)) return;
    if (event.street && event.street !== state.street) return;
    if (event.kind.startsWith("duty.")) loadPeople();
    else reloadSoon();
  }, { onReset: () => loadAll() });
}
