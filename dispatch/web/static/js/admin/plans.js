// The administration's plans tab: each community's emergency plan (应急工作预案) by street,
// one plan read in names (hazards, roles with holder and deputy, shelters, task templates,
// what the paired units pledged), a revision saved as the next draft version, approval of a
// draft, and the coverage the district reports (communities with an approved plan per
// hazard, per street). The service checks every reference and who may approve; the tab
// shows what it answered, and a refusal marks the field it names.
import { api } from "/static/js/api.js";
import { clear, h, problemText, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, fmtTime, lang, t } from "/static/js/i18n.js";
import { editor, holderText } from "/static/js/admin/plan_editor.js";
import { vocabulary } from "/static/js/vocabulary.js";

const $ = (id) => document.getElementById(id);
export const HAZARDS = ["rainstorm", "fire", "earthquake", "heatwave", "snow_ice", "public_health", "utility_outage", "building_collapse"];
export const LEVELS = ["I", "II", "III", "IV"];
const STATUSES = ["draft", "approved", "superseded"];
const STATUS_BADGE = { draft: "warn", approved: "ok", superseded: "" };
const SEP = lang === "zh" ? "、" : ", ";

export const plans = {
  may: { draft: true, approve: true }, // what the user's role may do (the service decides)
  streets: [],
  streetNames: new Map(),
  communityNames: new Map(),
  skills: new Map(),
  shelters: new Map(),
  list: [],
  shown: null,
  generation: 0,
};

export const skillName = (code) => {
  const key = `squad.skill.${code}`;
  return t(key) !== key ? t(key) : plans.skills.get(code) || code;
};
export const hazardName = (type) => t(`command.type.${type}`);
const hazardText = (hz) => t("prep.hazard.from_level", { type: hazardName(hz.type), level: t(`command.level.${hz.min_level}`) });
const statusBadge = (status) => h("span", { class: `badge ${STATUS_BADGE[status]}`, dataset: { status } }, t(`plan.status.${status}`));
const communityName = (code) => plans.communityNames.get(code) || code;
const streetName = (code) => plans.streetNames.get(code) || code;

function options(select, entries, blank) {
  clear(select);
  if (blank) select.append(h("option", { value: "" }, blank));
  for (const [value, label] of entries) select.append(h("option", { value }, label));
}

// --- coverage ----------------------------------------------------------------------------

async function loadCoverage() {
  const box = $("plan-coverage");
  let coverage;
  try {
    coverage = await api("/api/preparedness/plans/coverage");
  } catch (error) {
    clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
    return;
  }
  const share = (n, of) => `${fmtNumber(n)} / ${fmtNumber(of)}`;
  const pick = (street) =>
    h("button", { type: "button", class: "btn btn-small", "aria-label": t("prep.coverage.show_street", { street: street.name }), onclick: () => chooseStreet(street.street) }, street.name);
  const rows = coverage.streets.map((s) => [pick(s), fmtNumber(s.communities), share(s.with_plan, s.communities), ...HAZARDS.map((x) => share(s.by_hazard[x] || 0, s.communities))]);
  rows.push([h("strong", {}, t("prep.coverage.district")), fmtNumber(coverage.communities), share(coverage.with_plan, coverage.communities), ...HAZARDS.map((x) => share(coverage.by_hazard[x] || 0, coverage.communities))]);
  const headers = [t("admin.street"), t("prep.coverage.communities"), t("prep.coverage.with_plan"), ...HAZARDS.map(hazardName)];
  const numeric = headers.map((_, i) => i).slice(1);
  clear(box).append(table(headers, rows, { numeric, caption: t("prep.coverage.caption") }));
  box.querySelector("tbody tr:last-child")?.classList.add("total-row");
}

// --- the list ----------------------------------------------------------------------------

function chooseStreet(street) {
  $("pl-street").value = street;
  loadPlans();
  $("pl-street").focus();
}

export async function loadPlans() {
  const box = $("plans");
  const generation = ++plans.generation;
  clear(box).append(h("p", { class: "note" }, t("common.loading")));
  const query = new URLSearchParams();
  if ($("pl-street").value) query.set("street", $("pl-street").value);
  if ($("pl-status").value) query.set("status", $("pl-status").value);
  let list;
  try {
    list = await api(`/api/preparedness/plans?${query}`);
  } catch (error) {
    if (generation === plans.generation) clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
    return;
  }
  if (generation !== plans.generation) return;
  plans.list = list;
  $("plans-count").textContent = t("prep.plans.count", { n: fmtNumber(list.length), communities: fmtNumber(new Set(list.map((p) => p.community)).size) });
  const rows = list.map((p) => [
    communityName(p.community),
    t("prep.plan.version_n", { n: p.version }),
    p.title,
    statusBadge(p.status),
    p.hazards.map((x) => hazardName(x.type)).join(SEP),
    p.approved_at ? fmtDate(p.approved_at) : "",
    h("button", { type: "button", class: "btn", dataset: { plan: String(p.id) }, "aria-label": t("prep.plan.view_label", { community: communityName(p.community), n: p.version }), onclick: () => showPlan(p.id) }, t("prep.plan.view")),
  ]);
  const headers = ["community", "version", "title", "status", "hazards", "approved_at", "actions"].map((c) => t(`prep.plans.col.${c}`));
  clear(box).append(table(headers, rows));
  box.querySelectorAll("tbody tr").forEach((tr, i) => list[i] && (tr.dataset.plan = String(list[i].id)));
}

// --- one plan ----------------------------------------------------------------------------

async function sheltersOf(plan) {
  const missing = plan.shelters.filter((id) => !plans.shelters.has(id));
  if (missing.length) {
    for (const s of await api(`/api/shelters?street=${encodeURIComponent(plan.street)}`)) plans.shelters.set(s.id, s);
    for (const id of missing.filter((x) => !plans.shelters.has(x))) plans.shelters.set(id, await api(`/api/shelters/${id}`));
  }
  return plan.shelters.map((id) => plans.shelters.get(id));
}

function facilities(s) {
  return ["heating", "accessible", "medical"].filter((f) => s[f]).map((f) => t(`prep.shelter.${f}`)).join(SEP);
}

function rolesTable(plan) {
  const person = (x) => h("span", { class: "holder", dataset: { kind: x.kind, id: String(x.id) } }, holderText(x), x.phone ? h("span", { class: "note" }, ` ${x.phone}`) : null);
  const rows = plan.roles.map((r) => [r.role, person(r.holder), person(r.deputy)]);
  return table([t("prep.role.name"), t("prep.role.holder"), t("prep.role.deputy")], rows, { caption: t("prep.role.caption") });
}

function tasksTable(plan) {
  const rows = plan.tasks.map((x) => [
    t(`command.kind.${x.kind}`),
    fmtNumber(x.people),
    t("prep.task.minutes_n", { n: fmtNumber(x.minutes) }),
    x.skills.map(skillName).join(SEP),
    x.note || "",
  ]);
  return table([t("prep.task.kind"), t("prep.task.people"), t("prep.task.minutes"), t("prep.task.skills"), t("prep.task.note")], rows, { numeric: [1] });
}

async function pledgesTable(plan) {
  let pairings = [];
  try {
    pairings = await api(`/api/pairings?community=${encodeURIComponent(plan.community)}&counting=true`);
  } catch (error) {
    return h("p", { class: "error" }, problemText(error));
  }
  const rows = pairings.map((p) => [p.unit_name, fmtNumber(p.pledged_people), p.pledged_skills.map(skillName).join(SEP), fmtDate(p.valid_until)]);
  return table([t("prep.pledge.unit"), t("prep.pledge.people"), t("prep.pledge.skills"), t("prep.pledge.until")], rows, { numeric: [1] });
}

function suppliesTable(plan) {
  if (!plan.pledges?.length) return h("p", { class: "note" }, t("prep.supply.none"));
  const measure = (code) => (t(`squad.measure.${code}`) !== `squad.measure.${code}` ? t(`squad.measure.${code}`) : "");
  const rows = plan.pledges.map((x) => [x.unit_name, lang === "zh" ? x.item_name : x.item_name_en, `${fmtNumber(x.quantity)} ${measure(x.measure)}`.trim()]);
  return table([t("prep.supply.unit"), t("prep.supply.item"), t("prep.supply.quantity")], rows, { numeric: [2] });
}

function assemblyTable(plan) {
  if (!plan.assembly_points?.length) return h("p", { class: "note" }, t("prep.assembly.none"));
  const rows = plan.assembly_points.map((a) => [a.name, `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`, a.note || ""]);
  return table([t("prep.assembly.name"), t("prep.assembly.where"), t("prep.assembly.note")], rows);
}

function sheltersTable(shelters) {
  const rows = shelters.map((s) => [
    s.name,
    communityName(s.community),
    t("prep.shelter.occupancy_of", { occupancy: fmtNumber(s.occupancy), capacity: fmtNumber(s.capacity) }),
    h("span", { class: `badge shelter-${s.status}` }, t(`shelter.status.${s.status}`)),
    facilities(s),
  ]);
  return table([t("prep.shelter.name"), t("prep.plans.col.community"), t("prep.shelter.occupancy"), t("prep.shelter.status"), t("prep.shelter.facilities")], rows);
}

function planHead(plan) {
  const who = [t("prep.plan.created", { who: plan.created_by, at: fmtTime(plan.created_at) })];
  if (plan.approved_at) who.push(t("prep.plan.approved", { who: plan.approved_by, at: fmtTime(plan.approved_at) }));
  return [
    h("h2", { id: "plan-title" }, plan.title),
    h(
      "p",
      { class: "plan-meta" },
      `${communityName(plan.community)} · ${streetName(plan.street)} · ${t("prep.plan.version_n", { n: plan.version })} `,
      statusBadge(plan.status),
      plan.illustrative ? [" ", h("span", { class: "badge" }, t("prep.illustrative"))] : null,
    ),
    h("p", { class: "note" }, who.join(" · ")),
  ];
}

function planActions(plan) {
  const box = h("div", { class: "row-actions plan-actions" });
  if (plan.status === "draft" && plans.may.approve) {
    box.append(h("button", { type: "button", class: "btn btn-primary", id: "plan-approve", onclick: () => approve(plan) }, t("prep.plan.approve")));
  }
  if (plans.may.draft) {
    box.append(h("button", { type: "button", class: "btn", id: "plan-revise", onclick: () => revise(plan) }, t(plan.status === "draft" ? "prep.plan.edit" : "prep.plan.revise")));
  }
  return [box, h("p", { id: "plan-error", class: "error", role: "alert", hidden: true })];
}

export async function showPlan(id) {
  const box = clear($("plan-detail"));
  box.append(h("p", { class: "note" }, t("common.loading")));
  let plan;
  let shelters;
  try {
    plan = await api(`/api/preparedness/plans/${id}`);
    shelters = await sheltersOf(plan);
  } catch (error) {
    clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
    return;
  }
  plans.shown = plan;
  const pledges = await pledgesTable(plan);
  clear(box).append(
    ...planHead(plan),
    ...planActions(plan),
    h("h3", {}, t("prep.plan.hazards")),
    h("ul", { class: "plan-hazards" }, plan.hazards.map((x) => h("li", { dataset: { hazard: x.type } }, hazardText(x)))),
    h("h3", {}, t("prep.plan.roles")),
    rolesTable(plan),
    h("h3", {}, t("prep.plan.shelters")),
    sheltersTable(shelters),
    h("h3", {}, t("prep.plan.assembly")),
    assemblyTable(plan),
    h("h3", {}, t("prep.plan.tasks")),
    tasksTable(plan),
    h("h3", {}, t("prep.plan.pledges")),
    h("p", { class: "note" }, t("prep.pledge.note")),
    pledges,
    h("h3", {}, t("prep.plan.supplies")),
    suppliesTable(plan),
  );
  box.dataset.plan = String(plan.id);
  box.dataset.status = plan.status;
}

async function approve(plan) {
  const error = $("plan-error");
  try {
    const done = await api(`/api/preparedness/plans/${plan.id}/approve`, { method: "POST" });
    toast(t("prep.plan.approved_done", { community: communityName(done.community), n: done.version }));
    await Promise.all([showPlan(done.id), loadPlans(), loadCoverage()]);
  } catch (failure) {
    error.textContent = problemText(failure);
    error.hidden = false;
  }
}

async function revise(plan) {
  const box = clear($("plan-detail"));
  box.append(h("p", { class: "note" }, t("common.loading")));
  try {
    const form = await editor(plan, await sheltersOf(plan), {
      saved: async (made) => {
        toast(t("prep.plan.saved", { community: communityName(made.community), n: made.version }));
        await Promise.all([showPlan(made.id), loadPlans()]);
      },
      cancel: () => showPlan(plan.id),
    });
    clear(box).append(form);
    form.querySelector("input")?.focus();
  } catch (error) {
    clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
  }
}

// --- the tab -----------------------------------------------------------------------------

export function wirePlans() {
  $("pl-street").addEventListener("change", loadPlans);
  $("pl-status").addEventListener("change", loadPlans);
  $("plan-filter").addEventListener("submit", (event) => event.preventDefault());
}

/** First shown: the streets and communities the admin page already read, the skills. */
export async function initPlans({ streets: all, communities, me }) {
  // a street leader works their own street's plans (the service scopes every row anyway)
  const streets = me?.street ? all.filter((s) => s.code === me.street) : all;
  const { permissions } = await vocabulary();
  const granted = (action) => (permissions[action] || []).includes(me?.role);
  plans.may = { draft: granted("preparedness.draft"), approve: granted("preparedness.approve") };
  plans.streets = streets;
  for (const s of streets) plans.streetNames.set(s.code, s.name);
  for (const c of communities) plans.communityNames.set(c.code, c.name);
  plans.shelters.clear();
  const skills = await api("/api/skills").catch(() => []);
  for (const s of skills) plans.skills.set(s.code, s.name);
  options($("pl-street"), streets.map((s) => [s.code, s.name]), me?.street ? null : t("prep.plans.all_streets"));
  if (!$("pl-street").dataset.touched) $("pl-street").value = streets[0]?.code || "";
  $("pl-street").dataset.touched = "1";
  options($("pl-status"), STATUSES.map((s) => [s, t(`plan.status.${s}`)]), t("prep.plans.all_status"));
  await Promise.all([loadCoverage(), loadPlans()]);
}
