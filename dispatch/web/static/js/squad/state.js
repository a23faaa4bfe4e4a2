// The squad tablet's one state (what the API last said, the outbox's entries), the codes
// the service owns (from GET /api/vocabulary, set once at start) and the helpers that turn
// codes into names. Every other module of the page reads these.
import { lang, t } from "/static/js/i18n.js";

export const STREET_CHOICE = "dispatch.squad.street";

// The codes the service owns, set by useVocabulary: who may do what (the API decides; the
// page only hides what a role could never use), the statuses of a task still to be worked,
// the status each task step leads to, and the roles that work only their own tasks.
export let POLICY = {};
export let ACTIVE = [];
export let AFTER = {};
export let FIELD_ROLES = new Set();
export let PRIORITIES = [];
export let HOTLINE_AFTER = {}; // ticket step -> the status it leads to
export let CHANNELS = []; // how a reply reaches the caller
export let RATINGS = []; // the caller's verdicts, best first
export const SEP = lang === "zh" ? "、" : ", ";

/** Take the codes from the service's vocabulary; the page keeps only their labels and badges. */
export function useVocabulary(words) {
  POLICY = words.permissions;
  ACTIVE = words.task_active;
  AFTER = words.task_after;
  FIELD_ROLES = new Set(words.field_roles);
  PRIORITIES = words.priorities;
  HOTLINE_AFTER = words.hotline_after;
  CHANNELS = words.hotline_channels;
  RATINGS = words.hotline_ratings;
}

export const state = {
  user: null,
  street: null,
  community: null, // a community-scoped user's own community
  streets: new Map(),
  depots: [],
  communities: new Map(),
  items: new Map(),
  incidents: [],
  stock: [],
  alerts: [],
  tasks: [],
  tickets: null, // 12345 tickets in my scope (null until first loaded)
  transfers: new Map(),
  pending: [], // this user's outbox entries
  staleSince: null,
  dutyCommunity: null,
  offers: new Map(), // task id -> people suggested for it, while the leader chooses
  justSent: [], // stock actions sent but not yet in the balances on screen
  allDepots: new Map(), // every depot's name (deliveries come from the district reserve too)
};

export const $ = (id) => document.getElementById(id);
export const can = (action) => POLICY[action].includes(state.user?.role);
export const itemName = (code) => {
  const item = state.items.get(code);
  return item ? (lang === "zh" ? item.name_zh : item.name_en) : code;
};
export const unitOf = (code) => (state.items.has(code) ? label("squad.measure", state.items.get(code).unit) : "");
export const communityName = (code) => state.communities.get(code)?.name || code;
export const depotName = (code) => state.allDepots.get(code)?.name || code;
export const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};
