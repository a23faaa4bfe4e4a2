// Revising a community's emergency plan: its title, hazards (type and the mildest level it
// answers), roles (each with a holder and a deputy: a person, a team, a paired unit or the
// street squad, chosen by name) and shelters. The plan API keeps every version, so saving
// writes the next version as a draft (the one shown stays as it was); task templates are
// carried over as they are. A refusal marks the row and field the service names.
import { api } from "/static/js/api.js";
import { clear, h, problemText } from "/static/js/dom.js";
import { fmtNumber, t } from "/static/js/i18n.js";
import { HAZARDS, LEVELS, hazardName, plans } from "/static/js/admin/plans.js";

const KINDS = ["person", "team", "unit", "street_squad"];

export const holderText = (x) => t("prep.holder.named", { name: x.name, kind: t(`prep.holder.${x.kind}`) });

/** Who may hold a role in this community's plan, by kind: [id, name] pairs. */
async function candidates(plan) {
  const [people, teams, units, pairings] = await Promise.all([
    api(`/api/people?community=${encodeURIComponent(plan.community)}&limit=200`),
    api(`/api/teams?street=${encodeURIComponent(plan.street)}`),
    api("/api/partner-units"),
    api(`/api/pairings?community=${encodeURIComponent(plan.community)}&counting=true`).catch(() => []),
  ]);
  const paired = new Set(pairings.map((p) => p.unit_id));
  const byPairing = [...units].sort((a, b) => Number(paired.has(b.id)) - Number(paired.has(a.id)) || a.id - b.id);
  return {
    person: people.filter((p) => p.active).map((p) => [p.id, p.phone ? `${p.name} ${p.phone}` : p.name]),
    team: teams.filter((x) => x.kind !== "street_squad").map((x) => [x.id, x.name]),
    unit: byPairing.map((u) => [u.id, paired.has(u.id) ? t("prep.holder.paired", { name: u.name }) : u.name]),
    street_squad: teams.filter((x) => x.kind === "street_squad").map((x) => [x.id, x.name]),
  };
}

function select(field, label, entries, value) {
  const el = h("select", { "aria-label": label, dataset: { field } }, entries.map(([v, text]) => h("option", { value: String(v) }, text)));
  if (value != null) el.value = String(value);
  return el;
}

/** A holder's two choices: its kind, then who (the second list follows the first). */
function holderPicker(field, label, pool, current) {
  const kind = select(`${field}.kind`, t("prep.edit.kind_of", { what: label }), KINDS.map((k) => [k, t(`prep.holder.${k}`)]), current?.kind || "person");
  const who = h("select", { "aria-label": label, dataset: { field } });
  const fill = () => {
    const entries = [...(pool[kind.value] || [])];
    if (current && current.kind === kind.value && !entries.some(([id]) => id === current.id)) entries.unshift([current.id, current.name]);
    clear(who).append(h("option", { value: "" }, t("prep.edit.choose")), ...entries.map(([id, text]) => h("option", { value: String(id) }, text)));
    if (current && current.kind === kind.value) who.value = String(current.id);
  };
  kind.addEventListener("change", fill);
  fill();
  return { kind, who, node: h("span", { class: "holder-pick" }, kind, who) };
}

/** Rows are numbered as the body lists them: after a removal, `roles[2]` is `roles[1]`. */
function renumber(list, prefix) {
  [...list.children].forEach((row, i) => {
    for (const el of row.querySelectorAll("[data-field]")) el.dataset.field = el.dataset.field.replace(/^\w+\[\d+\]/, `${prefix}[${i}]`);
  });
}

function removeButton(list, row, prefix, label) {
  const remove = () => {
    row.remove();
    renumber(list, prefix);
  };
  return h("button", { type: "button", class: "btn btn-small", "aria-label": label, onclick: remove }, t("prep.edit.remove"));
}

function hazardRow(list, hazard) {
  const i = list.children.length;
  const type = select(`hazards[${i}].type`, t("prep.edit.hazard_type"), HAZARDS.map((x) => [x, hazardName(x)]), hazard?.type);
  const level = select(`hazards[${i}].min_level`, t("prep.edit.hazard_level"), LEVELS.map((x) => [x, t("prep.hazard.level_or_graver", { level: t(`command.level.${x}`) })]), hazard?.min_level || "IV");
  const row = h("li", { class: "edit-row hazard-row" }, type, level);
  row.append(removeButton(list, row, "hazards", t("prep.edit.remove_hazard")));
  row.read = () => ({ type: type.value, min_level: level.value });
  list.append(row);
  return row;
}

function roleRow(list, pool, role) {
  const i = list.children.length;
  const name = h("input", { value: role?.role || "", maxlength: 60, "aria-label": t("prep.role.name"), dataset: { field: `roles[${i}].role` } });
  const holder = holderPicker(`roles[${i}].holder`, t("prep.role.holder"), pool, role?.holder);
  const deputy = holderPicker(`roles[${i}].deputy`, t("prep.role.deputy"), pool, role?.deputy);
  const row = h(
    "li",
    { class: "edit-row role-row" },
    h("span", { class: "role-cell" }, h("span", { class: "note" }, t("prep.role.name")), name),
    h("span", { class: "role-cell" }, h("span", { class: "note" }, t("prep.role.holder")), holder.node),
    h("span", { class: "role-cell" }, h("span", { class: "note" }, t("prep.role.deputy")), deputy.node),
  );
  row.append(removeButton(list, row, "roles", t("prep.edit.remove_role", { role: role?.role || "" })));
  const pick = (p) => (p.who.value ? { kind: p.kind.value, id: Number(p.who.value) } : null);
  row.read = () => ({ role: name.value.trim(), holder: pick(holder), deputy: pick(deputy) });
  list.append(row);
  return row;
}

function shelterChecks(plan, street) {
  const chosen = new Set(plan.shelters);
  const all = [...plans.shelters.values()].filter((s) => s.street === street || chosen.has(s.id));
  return h(
    "fieldset",
    { class: "skills shelter-checks" },
    h("legend", {}, t("prep.plan.shelters")),
    all.length
      ? all.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", value: String(s.id), checked: chosen.has(s.id), dataset: { field: "shelters" } }), ` ${s.name} · ${t("prep.shelter.capacity_n", { n: fmtNumber(s.capacity) })}`))
      : h("p", { class: "note" }, t("prep.edit.no_shelters")),
  );
}

/** Mark the input a refusal names (`roles[1].deputy`, `hazards`...), or its nearest row. */
function markField(form, field) {
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  let name = field || "";
  while (name) {
    const el = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (el) {
      el.setAttribute("aria-invalid", "true");
      el.focus();
      return;
    }
    name = name.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
  }
}

function bodyOf(plan, form, hazards, roles) {
  const shelters = [...form.querySelectorAll(".shelter-checks input:checked")].map((x) => Number(x.value));
  return {
    community: plan.community,
    title: form.elements.namedItem("title").value.trim(),
    hazards: [...hazards.children].map((row) => row.read()),
    roles: [...roles.children].map((row) => row.read()),
    shelters,
    tasks: plan.tasks,
    // carried over as they are, like the task templates: a revision never drops them
    assembly_points: plan.assembly_points || [],
    pledges: (plan.pledges || []).map((x) => ({ unit: x.unit, item: x.item, quantity: x.quantity })),
  };
}

/** What the page can tell before asking: a missing title, role name or holder. */
function incomplete(body) {
  if (!body.title) return { field: "title", text: t("prep.edit.need_title") };
  if (!body.hazards.length) return { field: "hazards", text: t("prep.edit.need_hazard") };
  for (const [i, r] of body.roles.entries()) {
    if (!r.role) return { field: `roles[${i}].role`, text: t("prep.edit.need_role_name") };
    if (!r.holder) return { field: `roles[${i}].holder`, text: t("prep.edit.need_holder", { role: r.role }) };
    if (!r.deputy) return { field: `roles[${i}].deputy`, text: t("prep.edit.need_deputy", { role: r.role }) };
  }
  return null;
}

/** The revision form for `plan`; `saved(view)` runs with the draft the service wrote. */
export async function editor(plan, shelters, { saved, cancel }) {
  for (const s of shelters) plans.shelters.set(s.id, s);
  const pool = await candidates(plan);
  const hazards = h("ol", { class: "edit-list", id: "edit-hazards", dataset: { field: "hazards" }, tabindex: "-1" });
  const roles = h("ol", { class: "edit-list", id: "edit-roles", dataset: { field: "roles" }, tabindex: "-1" });
  plan.hazards.forEach((x) => hazardRow(hazards, x));
  plan.roles.forEach((r) => roleRow(roles, pool, r));
  const error = h("p", { class: "error", role: "alert", id: "plan-edit-error", hidden: true });
  const form = h(
    "form",
    { class: "form plan-edit", id: "plan-edit", novalidate: true },
    h("h2", {}, t("prep.edit.title", { community: plans.communityNames.get(plan.community) || plan.community })),
    h("p", { class: "note" }, t("prep.edit.new_version", { n: plan.version })),
    h("label", { for: "pe-title" }, t("prep.edit.plan_title")),
    h("input", { id: "pe-title", name: "title", value: plan.title, maxlength: 200, required: true, dataset: { field: "title" } }),
    h("h3", {}, t("prep.plan.hazards")),
    hazards,
    h("button", { type: "button", class: "btn", id: "edit-add-hazard", onclick: () => hazardRow(hazards).querySelector("select").focus() }, t("prep.edit.add_hazard")),
    h("h3", {}, t("prep.plan.roles")),
    roles,
    h("button", { type: "button", class: "btn", id: "edit-add-role", onclick: () => roleRow(roles, pool).querySelector("input").focus() }, t("prep.edit.add_role")),
    shelterChecks(plan, plan.street),
    h("p", { class: "note" }, t("prep.edit.tasks_kept", { n: plan.tasks.length, points: (plan.assembly_points || []).length, pledges: (plan.pledges || []).length })),
    error,
    h("div", { class: "row-actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "plan-save" }, t("prep.edit.save")), h("button", { type: "button", class: "btn", onclick: cancel }, t("common.cancel"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = bodyOf(plan, form, hazards, roles);
    const missing = incomplete(body);
    const refuse = (text, field) => {
      error.textContent = text;
      error.hidden = false;
      markField(form, field);
    };
    if (missing) return refuse(missing.text, missing.field);
    try {
      await saved(await api("/api/preparedness/plans", { method: "POST", body }));
    } catch (failure) {
      refuse(problemText(failure), failure.field);
    }
  });
  return form;
}
