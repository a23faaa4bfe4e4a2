// The command center's one state (what the API last said), the map it is drawn on, the
// codes the service owns (from GET /api/vocabulary, set once at start) and the small
// helpers that turn codes into names. Every other module of the page reads these.
import { h, toast } from "/static/js/dom.js";
import { fmtNumber, lang, t } from "/static/js/i18n.js";

export const $ = (id) => document.getElementById(id);
export const INCIDENT_KEY = "command.incident";

// the codes the service owns (incident types, levels, priorities, request sources, the
// statuses of a request still waiting and of a task still to be worked): see useVocabulary
export let TYPES = [];
export let LEVELS = [];
export let PRIORITIES = [];
export let SOURCES = [];
export let OPEN_REQUEST = new Set();
export let ACTIVE_TASK = new Set();
export let PERMISSIONS = {}; // action -> the roles that may do it (the service's table)
// `/command?wall=1`: the full-screen dark wall of a room, read from three metres
export const WALL = new URLSearchParams(location.search).get("wall") === "1";
// symbols' scale: large on the wall, a little larger on a 1920 px screen than on a tablet
export const S = WALL ? Math.max(1.1, 1.8 * Math.min(window.innerWidth / 1920, window.innerHeight / 1080)) : window.innerWidth >= 1600 ? 1.25 : 1;
// community names appear from this zoom (the whole district shows at about 13)
export const COMMUNITY_ZOOM = WALL ? 14.5 : 15;
export const ROUTE_COLOURS = ["#1d4ed8", "#7c3aed", "#0891b2", "#c026d3", "#ea580c", "#059669", "#4f46e5", "#be123c"];

/** Take the codes from the service's vocabulary; the page keeps only their labels and colours. */
export function useVocabulary(words) {
  TYPES = words.incident_types;
  LEVELS = words.incident_levels;
  PRIORITIES = words.priorities;
  SOURCES = words.request_sources;
  OPEN_REQUEST = new Set(words.request_open);
  ACTIVE_TASK = new Set(words.task_active);
  PERMISSIONS = words.permissions;
}

/** Whether the user's role may do `action`, as the service's permissions table says. */
export const may = (action) => (PERMISSIONS[action] || []).includes(state.user?.role);

/**
 * A control the user's role may not use looks disabled and says why on hover and on tap,
 * instead of being enabled and then refused. Returns the control.
 */
export function gate(el, action) {
  if (!el || may(action)) return el;
  const why = t("common.not_allowed", { role: t(`role.${state.user?.role}`) });
  el.setAttribute("aria-disabled", "true");
  el.classList.add("denied");
  el.title = why;
  el.dataset.denied = action;
  el.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopImmediatePropagation();
    toast(why, { bad: true });
  }, { capture: true });
  return el;
}

export const state = {
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

export let cc = null; // the map helpers

/** The map helpers, once the map exists (modules read `cc`; only start sets it). */
export function setMap(map) {
  cc = map;
}

export const itemName = (code) => {
  const item = state.items.get(code);
  return item ? (lang === "en" ? item.name_en : item.name_zh) : code;
};
export const communityName = (code) => state.communities.get(code)?.name || code;
export const skillName = (code) => state.skills.get(code) || code;
export const depotName = (code) => state.depots.get(code)?.name || code;
export const incidentId = () => state.incident?.id ?? null;
export const badge = (text, cls = "") => h("span", { class: `badge ${cls}` }, text);
export const prioBadge = (p) => badge(t(`command.priority.${p}`), `prio-${p}`);

export function minutes(seconds) {
  return t("command.fig.minutes", { n: fmtNumber(Math.round(Number(seconds) / 60)) });
}

/** A delivery's note ("12 x WATER from D110101000", written by the service) in names; a
 * delivery run: its vehicle and stops. */
export function taskNote(task) {
  if (task.vehicle) {
    const done = task.stops.filter((s) => s.status === "done").length;
    return t("command.task.run", { code: task.vehicle.code, depot: task.vehicle.depot_name, n: task.stops.length, done });
  }
  if (task.kind === "evacuation") {
    const where = task.shelter ? t("command.task.shelter", { shelter: task.shelter.name, room: task.shelter.room }) : t("command.task.no_shelter");
    return task.note ? `${where} · ${task.note}` : where;
  }
  const m = /^(\d+) x (\S+) from (\S+)$/.exec(task.note || "");
  return m ? `${itemName(m[2])} × ${m[1]} ← ${depotName(m[3])}` : task.note || "";
}
