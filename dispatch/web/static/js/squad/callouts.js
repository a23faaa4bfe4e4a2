// A call-out (召集) for the person logged in on this tablet: when a community's plan starts
// and one of its roles is theirs (as a person, or as the team they lead or belong to), the
// live feed says so, the tablet shows an alert at the top of every tab, sounds and vibrates,
// and the service worker shows a notification. One tap answers it — coming in so many
// minutes, or cannot, with a reason — through the outbox, so an answer given offline waits
// there and is sent once when the network returns (its Idempotency-Key makes a resend
// harmless; a call-out answered elsewhere meanwhile is refused and said so).
import { api } from "/static/js/api.js";
import { clear, codedText, h } from "/static/js/dom.js";
import { fmtTime, t } from "/static/js/i18n.js";
import { $, can, communityName, state } from "/static/js/squad/state.js";
import { act } from "/static/js/squad/actions.js";
import * as outbox from "/static/js/outbox.js";

const WAITING = new Set(["sent", "delivered"]); // not answered yet (delivered: reached the tablet)
const ETAS = [10, 20, 30, 60];
const REASONS = ["away", "unwell", "on_task", "other"];
const VIBRATE = [400, 150, 400, 150, 800];
// `answered`: sent from here, until the reloaded list no longer holds them as waiting
const calls = { mine: [], teams: new Set(), titles: new Map(), answered: new Set(), timer: null, audio: null, loading: null };

const notifiedKey = () => `dispatch.callouts.notified.${state.user?.id}`;
function notified() {
  try {
    return new Set(JSON.parse(localStorage.getItem(notifiedKey()) || "[]"));
  } catch {
    return new Set();
  }
}
function remember(ids) {
  const all = [...notified(), ...ids].slice(-200);
  localStorage.setItem(notifiedKey(), JSON.stringify(all));
}

/** Whether a call-out's recipient is this user: their person, or a team they are in. */
function mine(recipient) {
  const me = state.user?.person_id;
  if (me == null) return false;
  if (recipient.kind === "person") return recipient.id === me;
  return (recipient.kind === "team" || recipient.kind === "street_squad") && calls.teams.has(recipient.id);
}

async function loadTeams() {
  const me = state.user?.person_id;
  if (me == null || !can("teams.read") || calls.teams.size) return;
  // the teams this user may read (a community worker: their community's)
  const where = state.community ? `community=${state.community}` : `street=${state.street}`;
  const teams = await api(`/api/teams?${where}`).catch(() => []);
  for (const team of teams) {
    if (team.leader_id === me || team.members.some((m) => m.id === me)) calls.teams.add(team.id);
  }
}

async function incidentTitle(id) {
  const known = state.incidents.find((i) => i.id === id);
  if (known) return known.title;
  if (!calls.titles.has(id)) calls.titles.set(id, await api(`/api/incidents/${id}`).then((i) => i.title).catch(() => ""));
  return calls.titles.get(id);
}

/** The call-outs waiting for this user's answer; new ones raise the alert. */
export async function loadCallouts() {
  if (!can("callouts.answer")) return;
  calls.loading ??= (async () => {
    await loadTeams();
    const list = await api("/api/callouts");
    calls.mine = list.filter((c) => WAITING.has(c.state) && mine(c.recipient));
    for (const c of calls.mine) c.title = await incidentTitle(c.incident);
    await renderCallouts();
    alertNew();
  })()
    .catch(() => {}) // offline without a copy: the alert shows what it showed
    .finally(() => {
      calls.loading = null;
    });
  return calls.loading;
}

export function loadCalloutsSoon() {
  clearTimeout(calls.timer);
  calls.timer = setTimeout(loadCallouts, 200);
}

// --- the alert ------------------------------------------------------------------------------

function answerLabel(c, answer) {
  const what = answer.eta != null ? t("prep.squad.coming_in", { n: answer.eta }) : t("prep.squad.cannot_because", { reason: answer.reason });
  return t("prep.squad.answer_label", { role: c.role, community: communityName(c.community), what });
}

function answer(c, choice) {
  const ack = choice.eta != null;
  const path = `/api/callouts/${c.id}/${ack ? "acknowledge" : "decline"}`;
  const body = ack ? { eta_minutes: choice.eta } : { reason: choice.reason };
  act("callout", path, body, answerLabel(c, choice), { callout: c.id, eta: choice.eta ?? null, reason: choice.reason ?? null });
}

function answers(c) {
  const coming = ETAS.map((n) =>
    h("button", { type: "button", class: "btn coming", dataset: { eta: String(n) }, onclick: () => answer(c, { eta: n }) }, t("prep.squad.coming_n", { n })),
  );
  const cannot = REASONS.map((r) => {
    const reason = t(`prep.squad.reason.${r}`);
    return h("button", { type: "button", class: "btn cannot", dataset: { reason: r }, onclick: () => answer(c, { reason }) }, reason);
  });
  return h(
    "div",
    { class: "callout-answers", role: "group", "aria-label": t("prep.squad.answer_group", { role: c.role }) },
    h("p", { class: "callout-answers-label" }, t("prep.squad.coming")),
    coming,
    h("p", { class: "callout-answers-label" }, t("prep.squad.cannot")),
    cannot,
  );
}

function card(c, entry) {
  const as = c.recipient.kind === "person" ? null : t("prep.squad.as_team", { team: c.recipient.name });
  const facts = [t("prep.squad.incident", { id: c.incident, title: c.title || "" }), t("prep.squad.sent_at", { at: fmtTime(c.sent_at) }), as].filter(Boolean);
  const status = entry?.state === "refused"
    ? h("p", { class: "error" }, codedText(entry.problem || {}, entry.problem?.detail))
    : entry
      ? h("p", { class: "callout-answered" }, h("span", { class: "badge warn" }, t("squad.outbox.pending")), " ", answerLabelOf(entry))
      : answers(c);
  return h(
    "article",
    { class: "callout-card", dataset: { callout: String(c.id), state: entry ? entry.state : "open" } },
    h("p", { class: "what" }, t("prep.squad.called", { community: communityName(c.community), role: c.role })),
    h("p", { class: "note" }, facts.join(" · ")),
    status,
  );
}

const answerLabelOf = (entry) => (entry.ref.eta != null ? t("prep.squad.coming_in", { n: entry.ref.eta }) : t("prep.squad.cannot_because", { reason: entry.ref.reason }));

export async function renderCallouts() {
  const box = $("callout-alert");
  if (!box) return;
  const entries = await outbox.entries();
  const byCallout = new Map(entries.filter((e) => e.kind === "callout").map((e) => [e.ref.callout, e]));
  const shown = calls.mine.filter((c) => !calls.answered.has(c.id));
  box.hidden = shown.length === 0;
  box.dataset.count = String(shown.length);
  clear($("callout-cards")).append(...shown.map((c) => card(c, byCallout.get(c.id))));
  $("callout-enable").hidden = !("Notification" in window) || Notification.permission !== "default";
}

// --- sound, vibration and the worker's notification ----------------------------------------

function beep() {
  try {
    calls.audio ??= new AudioContext();
    const ctx = calls.audio;
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    [0, 0.35, 0.7].forEach((at) => {
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.3);
      tone.connect(gain).connect(ctx.destination);
      tone.start(ctx.currentTime + at);
      tone.stop(ctx.currentTime + at + 0.3);
    });
  } catch {
    /* no sound on this device: the alert and the vibration remain */
  }
}

async function notify(c) {
  if (!("Notification" in window) || Notification.permission !== "granted" || !navigator.serviceWorker) return;
  try {
    const worker = await navigator.serviceWorker.getRegistration("/");
    await worker?.showNotification(t("prep.squad.notify_title", { community: communityName(c.community) }), {
      body: t("prep.squad.notify_body", { role: c.role, title: c.title || "" }),
      tag: `callout-${c.id}`,
      renotify: true,
      requireInteraction: true,
      vibrate: VIBRATE,
      icon: "/static/favicon.svg",
      data: { url: "/squad", callout: c.id },
    });
  } catch (error) {
    console.warn("no notification", error);
  }
}

function alertNew() {
  const seen = notified();
  const fresh = calls.mine.filter((c) => !seen.has(c.id));
  if (!fresh.length) return;
  remember(fresh.map((c) => c.id));
  beep();
  navigator.vibrate?.(VIBRATE);
  fresh.forEach(notify);
  const box = $("callout-alert");
  box.dataset.alerted = String((Number(box.dataset.alerted) || 0) + fresh.length);
  box.scrollIntoView({ block: "start" });
}

/** A tap may enable sound (browsers start audio only after one) and notifications. */
async function enable() {
  calls.audio ??= new AudioContext();
  calls.audio.resume().catch(() => {});
  if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
  await renderCallouts();
}

// --- wiring ---------------------------------------------------------------------------------

/** The live feed's events about call-outs: a plan started or a call-out changed. */
export function calloutEvent(event) {
  const kind = event.kind || "";
  if (kind === "plan.activated" || kind.startsWith("callout.")) loadCalloutsSoon();
}

export function wireCallouts() {
  $("callout-enable").addEventListener("click", enable);
  document.addEventListener("pointerdown", () => calls.audio?.resume().catch(() => {}), { passive: true });
  window.addEventListener("outbox-changed", (event) => {
    const { sent, refused, recorded } = event.detail || {};
    const about = sent || refused || recorded;
    if (sent?.kind === "callout") calls.answered.add(sent.ref.callout);
    if (!about || about.kind === "callout") renderCallouts();
    if (sent?.kind === "callout" || refused?.kind === "callout") loadCalloutsSoon();
  });
  window.addEventListener("online", loadCalloutsSoon);
}
