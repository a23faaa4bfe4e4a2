// My tasks: loading them, each as it will be once its waiting steps are sent, drawn as
// cards with the steps this user may take.
import { clear, h } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { $, ACTIVE, AFTER, can, communityName, depotName, FIELD_ROLES, itemName, label, state, unitOf } from "/static/js/squad/state.js";
import { failed, read } from "/static/js/squad/loaders.js";
import { act, fillNeedForm, options } from "/static/js/squad/actions.js";
import { assignForm, completeForm, failForm, onItsWay, shareButton, sharing, stopSharing } from "/static/js/squad/steps.js";
import { runFacts, runStops } from "/static/js/squad/run.js";
import { deliveryFacts, receiver, routeSketch } from "/static/js/squad/delivery.js";

// --- tasks -----------------------------------------------------------------------------

export async function loadTasks() {
  try {
    const [tasks, transfers, incidents] = await Promise.all([
      read("/api/tasks"),
      read("/api/stock/transfers?status=dispatched").catch(() => []),
      read("/api/incidents").catch(() => []),
    ]);
    state.tasks = tasks.filter((task) => task.street === state.street); // district roles: the chosen street
    state.transfers = new Map(transfers.map((x) => [x.id, x]));
    state.incidents = incidents.filter((i) => i.status === "declared" || i.status === "responding");
    if (can("stock.issue")) {
      options($("issue-incident"), state.incidents.map((i) => [String(i.id), `#${i.id} ${i.title}`]), { blank: t("squad.field.no_incident") });
    }
    if (can("requests.create")) fillNeedForm();
    renderTasks();
  } catch (error) {
    failed($("task-list"), error);
  }
}

/** The task as it will be once its waiting steps are sent (each step adds one version). */
function projected(task) {
  const steps = state.pending.filter((e) => e.kind === "task" && e.ref.task === task.id && e.state === "waiting");
  let view = { ...task, waiting: steps };
  for (const step of steps) view = { ...view, status: AFTER[step.ref.step] || view.status, version: view.version + 1 };
  return view;
}

/** Item and quantity a delivery carries: its transfer's lines, or the plan's note. */
function cargo(task) {
  const transfer = state.transfers.get(task.transfer);
  if (transfer) {
    const qty = transfer.lines.reduce((sum, l) => sum + l.qty, 0);
    return { qty, item: transfer.lines[0]?.item, depot: transfer.source };
  }
  const match = /^(\d+) x (\S+) from (\S+)/.exec(task.note || "");
  return match ? { qty: Number(match[1]), item: match[2], depot: match[3] } : null;
}

/** Re-draw a list without losing what the user was typing, which boxes are open, or focus
 * (tasks and tickets re-render whenever the outbox sends or the live feed reports a change). */
export function preserving(container, draw) {
  const saved = new Map();
  const ticked = (el) => el.type === "checkbox" || el.type === "radio";
  for (const el of container.querySelectorAll("input[id], select[id], textarea[id]")) {
    saved.set(el.id, ticked(el) ? el.checked : el.value);
  }
  const open = [...container.querySelectorAll("details[open][id]")].map((d) => d.id);
  const errors = [...container.querySelectorAll(".error[id]:not([hidden])")].map((e) => [e.id, e.textContent]);
  const focused = container.contains(document.activeElement) ? document.activeElement.id : null;
  draw();
  for (const [id, value] of saved) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (ticked(el)) el.checked = value;
    else el.value = value;
  }
  for (const id of open) document.getElementById(id)?.setAttribute("open", "");
  for (const [id, text] of errors) {
    const el = document.getElementById(id);
    if (el) Object.assign(el, { textContent: text, hidden: false });
  }
  if (focused) document.getElementById(focused)?.focus();
}

export function renderTasks() {
  preserving($("panel-tasks"), drawTasks);
}

function drawTasks() {
  const active = [];
  const finished = [];
  for (const task of state.tasks) {
    const view = projected(task);
    (ACTIVE.includes(view.status) ? active : finished).push(view);
  }
  for (const id of [...sharing.keys()]) if (!onItsWay(id)) stopSharing(id); // arrived, failed, cancelled
  clear($("task-list")).append(...(active.length ? active.map(taskCard) : [h("li", { class: "note" }, t("squad.tasks.none"))]));
  clear($("task-finished-list")).append(...finished.slice(-30).reverse().map(taskCard));
  $("tasks-finished").hidden = finished.length === 0;
  const badge = $("tasks-badge");
  badge.textContent = String(active.length);
  badge.hidden = active.length === 0;
}

const TASK_BADGE = { open: "warn", assigned: "warn", accepted: "ok", en_route: "ok", done: "ok", failed: "bad", cancelled: "" };

function taskCard(task) {
  const run = Boolean(task.vehicle); // a delivery run: its stops, not one cargo
  const load = task.kind === "delivery" && !run ? cargo(task) : null;
  const id = `task-${task.id}`;
  const delivery = task.kind === "delivery" && !run;
  const facts = [
    ...(run ? runFacts(task) : []),
    run ? null : load ? t("squad.task.cargo", { qty: load.qty, unit: unitOf(load.item), item: itemName(load.item), depot: depotName(load.depot) }) : task.note,
    ...(delivery ? deliveryFacts(task) : []),
    t("squad.task.people", { n: task.people_needed, assigned: task.assignees.length }),
    task.households.length ? t("squad.task.households", { n: task.households.length }) : null,
    task.delivered_qty != null ? t("squad.task.delivered_qty", { n: task.delivered_qty }) : null,
    task.failed_reason ? t("squad.task.failed_reason", { reason: task.failed_reason }) : null,
    task.kind === "evacuation" ? shelterFact(task.shelter) : task.shelter ? t("squad.task.to_shelter", { shelter: task.shelter.name }) : null,
  ].filter(Boolean);
  return h(
    "li",
    { class: `panel task ${task.status}`, id, dataset: { task: task.id, status: task.status } },
    h(
      "div",
      { class: "task-head" },
      h("h3", {}, `#${task.id} ${label("squad.kind", task.kind)} · ${communityName(task.community)}`),
      h("span", { class: `badge ${TASK_BADGE[task.status] || ""} task-status` }, label("squad.status", task.status)),
      task.waiting.length ? h("span", { class: "badge warn" }, t("squad.task.waiting", { n: task.waiting.length })) : null,
    ),
    h("p", { class: "task-facts" }, facts.join(" · ")),
    delivery && ACTIVE.includes(task.status) ? h("div", { class: "delivery-details" }, routeSketch(task.route), receiver(task, renderTasks)) : null,
    run ? runStops(task, mayWork(task)) : null,
    ACTIVE.includes(task.status) ? taskActions(task, load) : null,
  );
}

/** Where an evacuation takes its people, with the room left when the task was read. */
function shelterFact(shelter) {
  return shelter ? t("squad.task.shelter", { shelter: shelter.name, room: shelter.room }) : t("squad.task.no_shelter");
}

export function step(task, name, body, text) {
  const all = { version: task.version, ...body };
  act("task", `/api/tasks/${task.id}/${name}`, all, `#${task.id} ${text}`, { task: task.id, step: name });
}

/** Volunteers and community workers work only the tasks they are on (the service's rule). */
function mayWork(task) {
  const own = !FIELD_ROLES.has(state.user?.role) || task.assignees.includes(state.user?.person_id);
  return can("tasks.work") && own;
}

function taskActions(task, load) {
  const box = h("div", { class: "task-actions" });
  const work = mayWork(task);
  if (task.status === "open" && can("tasks.assign")) box.append(assignForm(task));
  if (task.status === "assigned" && work) {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => step(task, "accept", {}, t("squad.task.accept")) }, t("squad.task.accept")));
  }
  if (task.status === "accepted" && work && task.kind === "delivery") {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => step(task, "start", {}, t("squad.task.start")) }, t("squad.task.start")));
  }
  const canFinish = task.kind === "delivery" ? task.status === "en_route" : ["accepted", "en_route"].includes(task.status);
  if (work) box.append(...[shareButton(task)].filter(Boolean));
  if (canFinish && work && !task.vehicle) box.append(completeForm(task, load)); // a run: per stop
  if (work) box.append(failForm(task));
  return box;
}
