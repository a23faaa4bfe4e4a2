// The command center's call-out board (召集): for the incident on screen, each plan that
// started (its community, when, what it opened) and everyone its roles called out — role,
// recipient, state, when they answered, their ETA or the reason they cannot come. The live
// feed says when a call-out changed (`callout.*`) or a plan started (`plan.activated`),
// and the board reloads; a row whose state changed since the last load is marked fresh.
import { api } from "/static/js/api.js";
import { clear, h, table } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, badge, communityName, incidentId, may } from "/static/js/command/state.js";
import { shelterName, shelters } from "/static/js/command/shelters.js";

export const board = { callouts: [], activations: [], states: new Map() };
const WAITING = new Set(["sent", "delivered"]);
const ORDER = ["acknowledged", "sent", "delivered", "declined", "no_answer"];

export const recipientText = (r) => t("prep.holder.named", { name: r.name, kind: t(`prep.holder.${r.kind}`) });
export const calloutState = (s) => badge(t(`callout.state.${s}`), `callout-${s}`);

export async function loadCallouts() {
  if (!may("callouts.read")) {
    $("tab-callouts").hidden = true;
    return;
  }
  const id = incidentId();
  const [callouts, activations] = id
    ? await Promise.all([api(`/api/callouts?incident=${id}`), api(`/api/preparedness/activations?incident=${id}`)])
    : [[], []];
  if (id !== incidentId()) return; // another incident was chosen meanwhile
  board.callouts = callouts;
  board.activations = activations;
  renderCallouts();
}

/** When the answer means they arrive: answered at + ETA (Beijing time). */
function arrival(c) {
  if (c.eta_minutes == null) return "";
  const at = c.answered_at ? new Date(new Date(c.answered_at).getTime() + c.eta_minutes * 60_000).toISOString() : null;
  const eta = t("prep.task.minutes_n", { n: fmtNumber(c.eta_minutes) });
  return at ? t("prep.callout.eta_at", { eta, at: fmtTime(at) }) : eta;
}

function summary(callouts) {
  const counts = new Map();
  for (const c of callouts) counts.set(c.state, (counts.get(c.state) || 0) + 1);
  const states = [...counts.keys()].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  return h(
    "p",
    { class: "callout-summary", id: "callout-summary", role: "status" },
    t("prep.callout.total", { n: fmtNumber(callouts.length) }),
    states.flatMap((s) => [" ", badge(`${t(`callout.state.${s}`)} ${fmtNumber(counts.get(s))}`, `callout-${s}`)]),
  );
}

function rowsOf(callouts) {
  return callouts.map((c) => [
    c.role,
    recipientText(c.recipient),
    calloutState(c.state),
    fmtTime(c.sent_at),
    fmtTime(c.answered_at),
    arrival(c),
    c.reason || "",
  ]);
}

function group(activation, callouts) {
  const opened = activation.shelters.map(shelterName).join(t("prep.sep"));
  const facts = [t("prep.activation.at", { at: fmtTime(activation.activated_at) }), t("prep.activation.tasks", { n: activation.tasks.length })];
  if (opened) facts.push(t("prep.activation.shelters", { names: opened }));
  const headers = ["role", "recipient", "state", "sent_at", "answered_at", "eta", "reason"].map((k) => t(`prep.callout.col.${k}`));
  const box = h(
    "section",
    { class: "callout-group", dataset: { activation: String(activation.id), community: activation.community } },
    h("h3", {}, t("prep.activation.title", { community: communityName(activation.community) })),
    h("p", { class: "note" }, facts.join(" · ")),
    table(headers, rowsOf(callouts)),
  );
  box.querySelectorAll("tbody tr").forEach((tr, i) => {
    const c = callouts[i];
    if (!c) return;
    tr.classList.add("callout-row");
    tr.dataset.callout = String(c.id);
    tr.dataset.state = c.state;
    const before = board.states.get(c.id);
    if (before && before !== c.state) tr.classList.add("fresh");
  });
  return box;
}

shelters.loaded.push(() => board.activations.length && renderCallouts());

export function renderCallouts() {
  const box = clear($("callouts"));
  const waiting = board.callouts.filter((c) => WAITING.has(c.state)).length;
  $("tab-callouts-n").textContent = waiting ? fmtNumber(waiting) : "";
  if (!incidentId()) {
    box.append(h("p", { class: "note" }, t("command.no_incident")));
    return;
  }
  if (!board.activations.length && !board.callouts.length) {
    box.append(h("p", { class: "note" }, t("prep.callout.none")));
    return;
  }
  box.append(summary(board.callouts));
  const known = new Set(board.activations.map((a) => a.id));
  for (const activation of board.activations) {
    box.append(group(activation, board.callouts.filter((c) => c.activation_id === activation.id)));
  }
  const others = board.callouts.filter((c) => !known.has(c.activation_id)); // outside the reader's activations
  if (others.length) box.append(group({ id: 0, community: others[0].community, shelters: [], tasks: [], activated_at: others[0].sent_at }, others));
  board.states = new Map(board.callouts.map((c) => [c.id, c.state]));
}

/** A line for the events list, or null when the event is not one of these. */
export function describePreparedness(event) {
  const d = event.data || {};
  const kind = event.kind || "";
  if (kind === "plan.activated") return t("prep.ev.activated", { community: communityName(event.community) });
  if (kind === "plan.approved" && d.version != null) return t("prep.ev.plan_approved", { community: communityName(d.community), n: d.version });
  if (kind.startsWith("callout.") && d.state) {
    const c = board.callouts.find((x) => x.id === d.callout);
    const who = c ? recipientText(c.recipient) : t("prep.callout.number", { id: d.callout });
    return t("prep.ev.callout", { who, state: t(`callout.state.${d.state}`) });
  }
  if (kind === "shelter.occupancy") {
    return t("prep.ev.shelter", { shelter: shelterName(d.shelter), occupancy: fmtNumber(d.occupancy), capacity: fmtNumber(d.capacity), status: t(`shelter.status.${d.status}`) });
  }
  if (kind === "shelter.created") return t("prep.ev.shelter_created", { shelter: shelterName(d.shelter) });
  return null;
}

/** Reload what a preparedness event changed; true when the event was one (`refresh` is the
 * loaders' own, passed in to keep the modules' imports one way). */
export function preparednessEvent(event, refresh) {
  const kind = event.kind || "";
  const d = event.data || {};
  const mine = d.incident == null || d.incident === incidentId();
  if (kind.startsWith("callout.")) {
    if (mine) refresh("callouts");
    return true;
  }
  if (kind === "plan.activated") {
    if (mine) refresh("callouts", "tasks", "summary");
    refresh("shelters");
    return true;
  }
  if (kind.startsWith("shelter.")) {
    refresh("shelters");
    return true;
  }
  return kind === "plan.approved" && d.version != null; // a community's plan: nothing on screen
}
