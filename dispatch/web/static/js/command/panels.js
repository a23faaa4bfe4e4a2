// The side panels: incident choice, requests, closures, the plan under review, tasks and
// suggested people, who is on duty, alerts, the figures, and the tabs between them.
import { clear, h, table } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, ACTIVE_TASK, badge, cc, communityName, depotName, gate, incidentId, itemName, prioBadge, PRIORITIES, skillName, state, taskNote } from "/static/js/command/state.js";
import { drawCommunities, highlightRoute } from "/static/js/command/layers.js";
import { approve, assign, reject, reopen, suggest } from "/static/js/command/actions.js";
import { etaMinutes, explanationCell, objectiveOf, printHead } from "/static/js/command/review.js";

// --- panels --------------------------------------------------------------------------------

export function renderIncidents() {
  const select = $("cc-incident");
  clear(select);
  if (!state.incidents.length) select.append(h("option", { value: "" }, t("command.no_incident")));
  for (const i of state.incidents) {
    select.append(h("option", { value: i.id, selected: i.id === incidentId() }, `#${i.id} ${i.title} · ${t(`command.status.${i.status}`)}`));
  }
  const status = state.incident?.status;
  $("cc-incident-status").textContent = status ? `${t(`command.type.${state.incident.type}`)} · ${t(`command.level.${state.incident.level}`)}` : "";
  $("cc-wall-incident").textContent = state.incident ? `#${state.incident.id} ${state.incident.title} · ${t(`command.status.${status}`)}` : t("command.wall.no_incident");
  $("cc-respond").hidden = status !== "declared";
  $("cc-stand-down").hidden = status !== "responding";
  $("cc-declare").open = !state.incidents.length;
  const communitySelect = $("request-community");
  clear(communitySelect);
  const codes = state.incident?.communities?.length ? state.incident.communities : [...state.communities.keys()];
  codes.forEach((code) => communitySelect.append(h("option", { value: code }, communityName(code))));
  drawCommunities();
  renderDuty();
}

export function renderRequests() {
  const rows = [...state.requests]
    .sort((a, b) => PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) || b.id - a.id)
    .map((r) => [
      `#${r.id}`,
      communityName(r.community),
      itemName(r.item),
      fmtNumber(r.quantity),
      prioBadge(r.priority),
      badge(t(`command.rstatus.${r.status}`), r.status === "fulfilled" ? "ok" : r.status === "unmet" ? "bad" : ""),
      fmtNumber(r.planned_qty),
      fmtNumber(r.delivered_qty),
    ]);
  const box = clear($("requests"));
  box.append(
    table(
      ["#", t("command.request.community"), t("command.request.item"), t("command.request.quantity"), t("command.request.priority"), t("command.request.status"), t("command.request.planned"), t("command.request.delivered")],
      rows,
      { numeric: [3, 6, 7] },
    ),
  );
}

export function renderClosures() {
  const rows = state.closures.map((c) => [
    `#${c.id}`,
    c.lat != null
      ? t("command.closure.circle", { lat: c.lat.toFixed(5), lon: c.lon.toFixed(5), radius: Math.round(c.radius_m) })
      : t("command.closure.edge", { u: c.u, v: c.v }),
    c.note || "",
    fmtTime(c.closed_at),
    gate(h("button", { type: "button", class: "btn", "aria-label": `${t("command.closure.reopen")} #${c.id}`, onclick: () => reopen(c.id) }, t("command.closure.reopen")), "incidents.manage"),
  ]);
  clear($("closures")).append(table(["#", t("command.closures"), t("command.closure.note"), "", ""], rows));
}

export function renderPlan() {
  const box = clear($("plan"));
  const plan = state.plan;
  box.dataset.plan = plan?.id ?? "";
  if (!plan) {
    box.append(h("p", { class: "note" }, t("command.plan.none")));
    return;
  }
  box.append(
    printHead(plan),
    h("h2", {}, t("command.plan.heading", { id: plan.id, status: t(`command.pstatus.${plan.status}`) })),
    objectiveOf(plan),
  );
  const proposed = plan.status === "proposed";
  const rows = plan.lines.map((line, i) => [
    String(i + 1),
    depotName(line.depot),
    placeName(line.community, line.shelter?.name),
    itemName(line.item),
    proposed
      ? h("input", {
          type: "number",
          min: 0,
          max: line.quantity,
          value: line.quantity,
          inputmode: "numeric",
          "aria-label": t("command.plan.quantity_of", { line: i + 1 }),
          dataset: { line: line.id, planned: line.quantity },
          class: "plan-qty",
          oninput: markEdited,
        })
      : fmtNumber(line.quantity),
    h("span", { class: "plan-eta", dataset: { minutes: etaMinutes(line) } }, t("command.fig.minutes", { n: fmtNumber(etaMinutes(line)) })),
    explanationCell(line),
  ]);
  const lines = table(
    [t("command.plan.line"), t("command.plan.depot"), t("command.plan.community"), t("command.plan.item"), t("command.plan.quantity"), t("command.plan.eta"), t("command.plan.explanation")],
    rows,
    { numeric: [0, 4, 5] },
  );
  lines.id = "plan-lines";
  lines.classList.add("plan-lines");
  box.append(lines);
  lines.querySelectorAll("tbody tr").forEach((row, i) => {
    row.addEventListener("mouseenter", () => highlightRoute(i, true));
    row.addEventListener("mouseleave", () => highlightRoute(i, false));
    row.addEventListener("focusin", () => highlightRoute(i, true));
    row.addEventListener("focusout", () => highlightRoute(i, false));
  });
  if (plan.runs?.length) box.append(...runsOf(plan.runs));
  if (plan.unmet.length) {
    box.append(h("h3", {}, t("command.plan.unmet")));
    const unmet = table(
      ["#", t("command.plan.community"), t("command.plan.item"), t("command.request.priority"), t("command.plan.missing"), t("command.plan.reason"), t("command.plan.explanation")],
      plan.unmet.map((u) => [
        `#${u.request}`,
        communityName(u.community),
        itemName(u.item),
        prioBadge(u.priority),
        fmtNumber(u.quantity),
        badge(t(`command.reason.${u.reason}`), "bad"),
        h("details", { class: "plan-why" }, h("summary", {}, h("span", { class: "plan-why-more" }, t("command.plan.more"))), h("p", { class: "note" }, said(u, u.explanation || ""))),
      ]),
      { numeric: [4] },
    );
    unmet.id = "plan-unmet";
    box.append(unmet);
  }
  if (proposed) {
    box.append(
      h(
        "div",
        { class: "cc-actions" },
        gate(h("button", { type: "button", class: "btn btn-primary", id: "plan-approve", onclick: () => approve(false) }, t("command.plan.approve")), "plans.approve"),
        gate(h("button", { type: "button", class: "btn", id: "plan-approve-edited", disabled: true, onclick: () => approve(true) }, t("command.plan.approve_edited")), "plans.approve"),
        gate(h("button", { type: "button", class: "btn btn-danger", id: "plan-reject", onclick: reject }, t("command.plan.reject")), "plans.approve"),
      ),
    );
  }
  box.append(h("div", { class: "cc-actions no-print" }, h("button", { type: "button", class: "btn", id: "plan-print", onclick: () => window.print() }, t("command.plan.print"))));
}

export function edits() {
  return [...document.querySelectorAll("input.plan-qty")]
    .map((input) => ({ line: Number(input.dataset.line), quantity: Math.max(0, Math.min(Number(input.dataset.planned), Math.floor(Number(input.value) || 0))), planned: Number(input.dataset.planned) }))
    .filter((e) => e.quantity !== e.planned)
    .map(({ line, quantity }) => ({ line, quantity }));
}

function markEdited() {
  const button = $("plan-approve-edited");
  if (button) button.disabled = edits().length === 0;
}

export function renderTasks() {
  const rows = [...state.tasks]
    .sort((a, b) => ACTIVE_TASK.has(b.status) - ACTIVE_TASK.has(a.status) || a.id - b.id)
    .map((task) => [
      `#${task.id}`,
      t(`command.kind.${task.kind}`),
      communityName(task.community),
      badge(t(`command.tstatus.${task.status}`), task.status === "done" ? "ok" : task.status === "failed" ? "bad" : ""),
      `${task.assignees.length}/${task.people_needed}`,
      taskNote(task),
      task.status === "open" || task.status === "assigned"
        ? gate(h("button", { type: "button", class: "btn", onclick: () => suggest(task) }, t("command.task.suggest")), "people.suggest")
        : "",
    ]);
  const wrap = table(["#", t("command.task.kind"), t("command.request.community"), t("command.task.status"), t("command.task.people"), t("command.closure.note"), ""], rows, { numeric: [4] });
  wrap.id = "tasks-table";
  clear($("tasks")).append(wrap);
  if (state.suggestions && !state.tasks.some((x) => x.id === state.suggestions.task.id && ACTIVE_TASK.has(x.status))) {
    state.suggestions = null;
    clear($("suggestions"));
  }
}

export function renderSuggestions() {
  const box = clear($("suggestions"));
  if (!state.suggestions) return;
  const { task, offer } = state.suggestions;
  box.append(h("h3", {}, t("command.task.suggestions", { id: task.id, wanted: offer.wanted, staffed: offer.staffed })));
  const rows = offer.suggestions.map((s, i) => [
    h("input", { type: "checkbox", class: "pick-person", value: s.person_id, checked: i < offer.wanted, "aria-label": t("command.task.choose", { name: s.name }) }),
    s.name,
    communityName(s.community || ""),
    s.skills.map(skillName).join("、"),
    t("command.fig.minutes", { n: fmtNumber(Math.round(s.travel_min)) }),
    t(`command.pref.${s.preferred}`),
    fmtNumber(s.hours_today),
  ]);
  box.append(table(["", t("command.name"), t("command.request.community"), t("command.on_duty.skills"), t("command.task.travel"), t("command.task.preferred"), t("command.task.hours")], rows, { numeric: [4, 6] }));
  for (const s of offer.short) box.append(h("p", { class: "note" }, t("command.task.short", { n: s.missing, reason: s.explanation })));
  if (offer.suggestions.length) {
    box.append(h("div", { class: "cc-actions" }, gate(h("button", { type: "button", class: "btn btn-primary", id: "assign", onclick: assign }, t("command.task.assign")), "tasks.assign")));
  }
}

export function renderDuty() {
  const involved = new Set(state.incident?.communities || []);
  const onlyIncident = $("duty-scope").checked && involved.size;
  const rows = state.onDuty
    .filter((c) => (onlyIncident ? involved.has(c.community) : c.on_duty > 0))
    .sort((a, b) => b.on_duty - a.on_duty)
    .slice(0, 20)
    .map((c) => [
      c.name,
      state.streets.get(c.street)?.name || c.street,
      fmtNumber(c.on_duty),
      Object.entries(c.skills)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([skill, n]) => `${skillName(skill)} ${n}`)
        .join(" · "),
    ]);
  clear($("on-duty")).append(table([t("command.request.community"), t("nav.squad"), t("command.fig.on_duty"), t("command.on_duty.skills")], rows, { numeric: [2] }));
}

export function renderAlerts() {
  const rows = state.alerts.slice(0, 200).map((a) => [
    badge(t(`command.alert.${a.kind}`), a.kind === "below_standard" ? "warn" : "bad"),
    depotName(a.depot),
    itemName(a.item),
    fmtNumber(a.qty),
    a.minimum != null ? fmtNumber(a.minimum) : "",
    a.days_left != null ? `${a.lot || ""} ${t("command.alert.days", { n: a.days_left })}` : a.lot || "",
  ]);
  clear($("alerts")).append(table([t("command.alert.kind"), t("command.plan.depot"), t("command.plan.item"), t("command.alert.qty"), t("command.alert.minimum"), t("command.alert.detail")], rows, { numeric: [3, 4] }));
  $("tab-alerts-n").textContent = state.alerts.length ? String(state.alerts.length) : "";
}

export function renderFigures() {
  const s = state.summary;
  $("fig-fill").textContent = s && s.requests ? `${Math.round(s.fill_rate * 100)}%` : "–";
  $("fig-first").textContent = s?.first_delivery_minutes != null ? t("command.fig.minutes", { n: fmtNumber(Math.round(s.first_delivery_minutes * 10) / 10) }) : "–";
  $("fig-tasks").textContent = s ? `${s.tasks_done}/${s.tasks}` : "–";
  const open = clear($("fig-open"));
  const counts = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  state.requests.filter((r) => r.status === "open").forEach((r) => (counts[r.priority] += 1));
  PRIORITIES.forEach((p) => open.append(h("span", { class: `prio badge prio-${p}`, dataset: { priority: p } }, `${t(`command.priority.${p}`)} ${counts[p]}`)));
  $("fig-alerts").textContent = fmtNumber(state.alerts.filter((a) => a.kind === "below_standard").length);
  $("fig-duty").textContent = fmtNumber(state.onDuty.reduce((n, c) => n + c.on_duty, 0));
}

export function showTab(name) {
  document.querySelector(".cc").dataset.tab = name;
  setTimeout(() => cc?.map.invalidateSize(), 0); // the plan tab may widen the panels
  for (const tab of document.querySelectorAll('.cc-side [role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
}

/** A plan's explanation in the page's language: its message `code` with `params` (the
 * names of depots, items and communities), else the service's English sentence. */
function said(explained, english) {
  if (!explained?.code) return english;
  const text = t(explained.code, explained.params || {});
  return text === explained.code ? english : text;
}

/** Where goods are handed over: a shelter (安置点) of the community by name, else its committee. */
const placeName = (community, shelter) => (shelter ? t("place.at_shelter", { shelter, community: communityName(community) }) : communityName(community));

/** The plan's delivery runs: per depot, each vehicle's trips (stops in order with ETA and
 * load), then the stops its vehicles cannot serve and why. */
function runsOf(runs) {
  const rows = [];
  for (const entry of runs) {
    for (const run of entry.runs) {
      run.trips.forEach((trip, i) => rows.push([
        depotName(entry.depot),
        run.vehicle,
        t("command.run.trip", { n: i + 1 }),
        trip.stops.map((stop) => t("command.run.stop", { community: placeName(stop.community, stop.shelter_name), eta: fmtNumber(Math.round(stop.arrival_min)) })).join(" → "),
        t("command.run.kg", { kg: fmtNumber(Math.round(trip.load_kg)) }),
        t("command.fig.minutes", { n: fmtNumber(Math.round(trip.return_min)) }),
      ]));
    }
    for (const u of entry.unserved) {
      rows.push([depotName(entry.depot), "—", "—", placeName(u.community, u.shelter_name), t("command.run.kg", { kg: fmtNumber(Math.round(u.kg)) }), badge(t(`command.run.reason.${u.reason}`), "bad")]);
    }
  }
  const wrap = table([t("command.plan.depot"), t("command.run.vehicle"), t("command.run.trips"), t("command.run.stops"), t("command.run.load"), t("command.run.back")], rows);
  wrap.id = "plan-runs";
  return [h("h3", {}, t("command.run.title")), wrap];
}
