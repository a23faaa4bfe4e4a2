// The squad tablet's activities tab: today's and upcoming community activities (clean-ups,
// waste-sorting duty, patrols) of my street or community, with sign-up for the person this
// user is, and for an activity's organiser (or a manager of its community) the attendance
// list: one tap checks a person in or out. Every action goes through the outbox under its
// own Idempotency-Key, with the moment of the tap, so a tap made offline counts once, later,
// at the time it was made. Each activity is shown as it will be once its waiting taps are sent.
import { clear, h } from "/static/js/dom.js";
import { fmtNumber, lang, t } from "/static/js/i18n.js";
import { $, label, state } from "/static/js/squad/state.js";
import { failed, readCopy } from "/static/js/squad/loaders.js";
import { act } from "/static/js/squad/actions.js";
import { preserving } from "/static/js/squad/tasks.js";
import * as outbox from "/static/js/outbox.js";

const KIND = "activity"; // the outbox entries of this tab
const mine = { activities: [], lists: new Map(), open: new Set(), pending: [] };

const DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }); // YYYY-MM-DD: sorts as text
const WHEN = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit" });
const CLOCK = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
const dayOf = (iso) => DAY.format(new Date(iso));

export function wireActivities() {
  $("activities-reload").addEventListener("click", () => loadActivities());
  window.addEventListener("outbox-changed", async (event) => {
    mine.pending = (await outbox.entries()).filter((e) => e.kind === KIND);
    const { sent, refused } = event.detail || {};
    if (refused?.kind === KIND) loadActivities(); // the list changed meanwhile: show it as it is
    else if (sent?.kind === KIND) {
      const list = mine.lists.get(sent.ref.activity);
      const result = event.detail.result;
      if (list && result?.person_id) mine.lists.set(sent.ref.activity, list.map((p) => (p.person_id === result.person_id ? result : p)));
      loadActivities();
    } else renderActivities();
  });
}

/** The activities of my area (the service keeps the scope): a district role's chosen street. */
export async function loadActivities() {
  try {
    const district = !state.user.street && !state.user.community;
    const { body: found, stored } = await readCopy(`/api/activities?limit=100${district ? `&street=${state.street}` : ""}`);
    if (!stored || !mine.activities.length) mine.activities = found; // as for the lists below
    clear($("activity-list")); // a failure shown before is over
    mine.pending = (await outbox.entries()).filter((e) => e.kind === KIND);
    await Promise.all(mine.activities.filter((a) => a.takes_attendance && mine.open.has(a.id)).map(loadList));
    renderActivities();
  } catch (error) {
    failed($("activity-list"), error);
  }
}

async function loadList(activity) {
  try {
    const { body, stored } = await readCopy(`/api/activities/${activity.id}/signups`);
    // a stored copy (offline) never replaces the list this page already holds: that one
    // came from the service, or from a sent tap's answer, since the copy was stored
    if (!stored || !mine.lists.has(activity.id)) mine.lists.set(activity.id, body);
  } catch {
    /* offline without a copy: the list says so when drawn */
  }
}

const waiting = (activityId, person) =>
  mine.pending.filter((e) => e.state === "waiting" && e.ref.activity === activityId && (person == null || e.ref.person === person));

/** My own sign-up as it will be once my waiting taps are sent. */
function myStatus(activity) {
  let status = activity.mine === "cancelled" ? null : activity.mine;
  for (const e of waiting(activity.id, state.user.person_id)) {
    if (e.ref.step === "signup") status = "signed_up";
    if (e.ref.step === "cancel") status = null;
  }
  return status;
}

/** A person's line of the attendance list as it will be once the waiting taps are sent. */
function projected(activityId, person) {
  let view = { ...person };
  for (const e of waiting(activityId, person.person_id)) {
    if (e.ref.step === "check-in") view = { ...view, status: "checked_in", checked_in_at: e.body.at };
    if (e.ref.step === "check-out") view = { ...view, status: "checked_out", checked_out_at: e.body.at };
  }
  return view;
}

let drawn = null; // what the list was last drawn from

/** Draw the list again only if what it shows changed: a reload that brings the same answer
 * (the live feed, a sent tap) never replaces a button under the user's finger. */
export function renderActivities() {
  const pending = mine.pending.map((e) => [e.key, e.state]);
  const from = JSON.stringify([mine.activities, [...mine.lists], [...mine.open], pending, dayOf(new Date().toISOString())]);
  if (from === drawn) return;
  drawn = from;
  preserving($("panel-activities"), drawActivities);
}

function drawActivities() {
  const today = dayOf(new Date().toISOString());
  const now = [];
  const later = [];
  for (const activity of mine.activities) (dayOf(activity.starts_at) <= today ? now : later).push(activity);
  const none = (key) => [h("li", { class: "note" }, t(key))];
  clear($("activity-today")).append(...(now.length ? now.map(card) : none("activities.none_today")));
  clear($("activity-upcoming")).append(...(later.length ? later.map(card) : none("activities.none_upcoming")));
  const badge = $("activities-badge");
  badge.textContent = String(now.length);
  badge.hidden = now.length === 0;
  $("activities-no-person").hidden = state.user.person_id != null;
}

function card(activity) {
  const status = myStatus(activity);
  const taken = activity.signed_up + waiting(activity.id, state.user.person_id).reduce((n, e) => n + (e.ref.step === "signup" ? 1 : e.ref.step === "cancel" ? -1 : 0), 0);
  const facts = [
    `${WHEN.format(new Date(activity.starts_at))}–${CLOCK.format(new Date(activity.ends_at))}`,
    activity.place,
    activity.community_name,
    t("activities.organiser", { name: activity.organiser_name }),
    t("activities.places", { taken: fmtNumber(taken), capacity: fmtNumber(activity.capacity) }),
  ];
  const pending = waiting(activity.id).length;
  return h(
    "li",
    { class: `panel task activity ${activity.kind}`, id: `activity-${activity.id}`, dataset: { activity: activity.id } },
    h(
      "div",
      { class: "task-head" },
      h("h3", {}, activity.title),
      h("span", { class: "badge" }, label("activities.kind", activity.kind)),
      status ? h("span", { class: "badge ok my-status" }, label("activities.status", status)) : null,
      activity.illustrative ? h("span", { class: "badge" }, t("activities.illustrative")) : null,
      pending ? h("span", { class: "badge warn" }, t("squad.task.waiting", { n: pending })) : null,
    ),
    h("p", { class: "task-facts" }, facts.join(" · ")),
    activity.note && !activity.illustrative ? h("p", { class: "note" }, activity.note) : null,
    h("div", { class: "task-actions" }, signupButton(activity, status, taken), attendance(activity)),
  );
}

function signupButton(activity, status, taken) {
  const person = state.user.person_id;
  if (person == null || new Date(activity.ends_at) <= new Date()) return null;
  if (status === "signed_up") {
    const text = t("activities.cancel_label", { title: activity.title });
    return h("button", { type: "button", class: "btn", onclick: () => act(KIND, `/api/activities/${activity.id}/signups/${person}/cancel`, {}, text, { activity: activity.id, person, step: "cancel" }) }, t("activities.cancel"));
  }
  if (status) return null; // came already
  if (taken >= activity.capacity) return h("p", { class: "note" }, t("activities.full"));
  const text = t("activities.signup_label", { title: activity.title });
  return h("button", { type: "button", class: "btn btn-primary", onclick: () => act(KIND, `/api/activities/${activity.id}/signups`, {}, text, { activity: activity.id, person, step: "signup" }) }, t("activities.signup"));
}

/** The organiser's attendance list, opened on demand (kept open across re-draws). */
function attendance(activity) {
  if (!activity.takes_attendance) return null;
  const open = mine.open.has(activity.id);
  const id = `attendance-${activity.id}`;
  const toggle = h("button", { type: "button", class: "btn attendance-toggle", "aria-expanded": String(open), "aria-controls": id }, t("activities.attendance", { n: fmtNumber(activity.attended) }));
  toggle.addEventListener("click", async () => {
    if (mine.open.has(activity.id)) mine.open.delete(activity.id);
    else {
      mine.open.add(activity.id);
      await loadList(activity);
    }
    renderActivities();
  });
  const box = h("div", { id, class: "attendance", hidden: !open });
  if (open) {
    const people = mine.lists.get(activity.id);
    if (!people) box.append(h("p", { class: "note" }, t("squad.offline_no_copy")));
    else if (!people.length) box.append(h("p", { class: "note" }, t("activities.nobody")));
    else box.append(h("ul", { class: "attendance-list" }, people.map((p) => attendee(activity, projected(activity.id, p)))));
  }
  return h("div", {}, toggle, box);
}

function attendee(activity, person) {
  const tap = (step, key) => {
    const text = t(`activities.${key}_label`, { name: person.person_name, title: activity.title });
    const path = `/api/activities/${activity.id}/signups/${person.person_id}/${step}`;
    act(KIND, path, { at: new Date().toISOString() }, text, { activity: activity.id, person: person.person_id, step });
  };
  const times = [
    person.checked_in_at ? t("activities.came", { time: CLOCK.format(new Date(person.checked_in_at)) }) : null,
    person.checked_out_at ? t("activities.left", { time: CLOCK.format(new Date(person.checked_out_at)) }) : null,
  ].filter(Boolean);
  let button = null;
  if (person.status === "signed_up") button = h("button", { type: "button", class: "btn btn-primary", onclick: () => tap("check-in", "check_in") }, t("activities.check_in"));
  if (person.status === "checked_in") button = h("button", { type: "button", class: "btn", onclick: () => tap("check-out", "check_out") }, t("activities.check_out"));
  return h(
    "li",
    { class: `attendee ${person.status}`, dataset: { person: person.person_id, status: person.status } },
    h("strong", {}, person.person_name),
    " ",
    h("span", { class: "badge" }, label("activities.status", person.status)),
    times.length ? h("span", { class: "note" }, ` ${times.join(" · ")}`) : null,
    " ",
    button,
  );
}
