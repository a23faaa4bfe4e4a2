// The plan under review, as a reader takes it in: one ETA per line (the line's `eta_s`,
// driving plus handling) used by the ETA column and by its explanation alike, the
// explanation as one short line with the whole sentence on demand, and the plan's
// objective said as what it is (mean minutes per unit sent, units sent per priority).
import { h } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { PRIORITIES, prioBadge, state } from "/static/js/command/state.js";

/** A line's ETA in whole minutes: the one figure the table and the explanation show. */
export const etaMinutes = (line) => Math.round(Number(line.eta_s) / 60);

/** The explanation's params with the line's own ETA (plans stored before the ETA was in
 * the params get it here too: the same figure either way). */
function paramsOf(line) {
  const p = { ...(line.explained?.params || {}) };
  const handling = (Number(line.eta_s) - Number(line.travel_s)) / 60;
  p.eta_minutes = fmtNumber(etaMinutes(line));
  p.handling_minutes ??= Math.round(handling * 10) / 10;
  if (p.next_minutes != null) p.next_eta_minutes ??= Math.round(Number(p.next_minutes) + handling);
  return p;
}

/** The explanation cell: one short line, the full sentence under "details". */
export function explanationCell(line) {
  const code = line.explained?.code;
  if (!code) return h("span", { class: "note" }, line.explanation || "");
  const params = paramsOf(line);
  const short = t(`command.plan.short.${code.split(".").pop()}`, params);
  const full = t(code, params);
  return h(
    "details",
    { class: "plan-why" },
    h("summary", {}, h("span", { class: "plan-why-short" }, short), h("span", { class: "plan-why-more" }, t("command.plan.more"))),
    h("p", { class: "note" }, full === code ? line.explanation : full),
  );
}

/** What the plan achieves: units sent and their mean minutes to arrive, per priority. */
export function objectiveOf(plan) {
  const priorityOf = new Map(state.requests.map((r) => [r.id, r.priority]));
  const sent = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  let units = 0;
  let unitSeconds = 0;
  for (const line of plan.lines) {
    const priority = priorityOf.get(line.request) || "normal";
    sent[priority] = (sent[priority] || 0) + line.quantity;
    units += line.quantity;
    unitSeconds += line.quantity * Number(line.eta_s);
  }
  const unmet = plan.unmet.reduce((n, u) => n + u.quantity, 0);
  const mean = units ? Math.round(unitSeconds / units / 6) / 10 : null;
  const headline = units
    ? t("command.plan.summary", { lines: plan.lines.length, units: fmtNumber(units), mean: fmtNumber(mean) })
    : t("command.plan.summary_none");
  return h(
    "div",
    { class: "plan-objective", title: t("command.plan.objective_note") },
    h("p", { class: "plan-headline", id: "plan-objective", dataset: { mean: mean ?? "", units } }, headline),
    h(
      "p",
      { class: "plan-sent" },
      h("span", { class: "note" }, t("command.plan.sent")),
      ...PRIORITIES.filter((p) => sent[p]).map((p) => h("span", { class: "plan-sent-n", dataset: { priority: p } }, prioBadge(p), ` ${t("command.plan.units", { n: fmtNumber(sent[p]) })}`)),
      unmet ? h("span", { class: "badge bad" }, t("command.plan.unmet_units", { n: fmtNumber(unmet) })) : null,
      h("span", { class: "note plan-runtime" }, t("command.plan.runtime", { ms: fmtNumber(Math.round(plan.runtime_ms)) })),
    ),
  );
}

/** The requests arrived after the plan was drawn: its per-priority figures again (the
 * table, and any quantities being edited in it, stay). */
export function refreshObjective() {
  const shown = document.querySelector("#plan .plan-objective");
  if (shown && state.plan) shown.replaceWith(objectiveOf(state.plan));
}

/** On paper: every explanation open (a closed <details> prints its summary only). */
export function printOpen() {
  const shut = [];
  window.addEventListener("beforeprint", () => {
    document.querySelectorAll("#plan details.plan-why:not([open])").forEach((d) => {
      d.open = true;
      shut.push(d);
    });
  });
  window.addEventListener("afterprint", () => shut.splice(0).forEach((d) => (d.open = false)));
}

/** The printed plan says whose it is and when it was printed. */
export function printHead(plan) {
  const incident = state.incidents.find((i) => i.id === plan.incident);
  return h("p", { class: "print-only" }, t("command.plan.printed", { incident: incident ? `#${incident.id} ${incident.title}` : `#${plan.incident}`, time: fmtTime(new Date().toISOString()) }));
}
