// What the commander does: declare, respond and stand down; add requests; close and
// reopen roads; make, approve or reject a plan; assign people to a task. Each calls the
// API once and asks for the views it changed to reload.
import { api } from "/static/js/api.js";
import { clear, problemText, toast } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { $, INCIDENT_KEY, incidentId, state } from "/static/js/command/state.js";
import { INCIDENT_VIEWS, loadIncidents, refresh, run } from "/static/js/command/loaders.js";
import { drawPlan, setPicking } from "/static/js/command/layers.js";
import { edits, renderPlan, renderSuggestions, showTab } from "/static/js/command/panels.js";

export async function closeAt({ lat, lon }) {
  if (!state.picking) return;
  setPicking(false);
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  const body = { near: [Number(lat.toFixed(6)), Number(lon.toFixed(6))], radius_m: Number($("closure-radius").value) || 150 };
  const note = $("closure-note").value.trim();
  if (note) body.note = note;
  try {
    const made = await api(`/api/incidents/${incidentId()}/closures`, { method: "POST", body });
    toast(t("command.closure.done", { id: made.id, n: made.rerouted_tasks.length }));
    refresh("closures", "tasks");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

export async function reopen(id) {
  try {
    await api(`/api/closures/${id}/reopen`, { method: "POST" });
    toast(t("command.closure.reopened", { id }));
    refresh("closures", "tasks");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

export async function makePlan() {
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  $("plan-stale").hidden = true;
  const button = $("plan-make");
  button.disabled = true;
  try {
    state.plan = await api(`/api/incidents/${incidentId()}/plans`, { method: "POST", body: { policy: $("plan-policy").value } });
    toast(t("command.plan.new", { id: state.plan.id }));
    renderPlan();
    drawPlan();
    showTab("plan");
  } catch (error) {
    toast(problemText(error), { bad: true });
  } finally {
    button.disabled = false;
  }
}

export async function approve(edited) {
  const plan = state.plan;
  const body = edited ? { lines: edits() } : {};
  try {
    await api(`/api/plans/${plan.id}/approve`, { method: "POST", body });
    toast(t("command.plan.approved", { id: plan.id }));
    refresh("plan", "tasks", "requests", "summary", "stock");
  } catch (error) {
    if (error.status === 409) {
      $("plan-stale").hidden = false;
      $("plan-replan").focus();
    } else toast(problemText(error), { bad: true });
  }
}

export async function reject() {
  const plan = state.plan;
  if (!window.confirm(t("command.plan.reject.confirm", { id: plan.id }))) return;
  try {
    await api(`/api/plans/${plan.id}/reject`, { method: "POST", body: {} });
    toast(t("command.plan.rejected", { id: plan.id }));
    refresh("plan");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

export async function suggest(task) {
  try {
    const offer = await api(`/api/tasks/${task.id}/suggestions`);
    state.suggestions = { task, offer };
    renderSuggestions();
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

export async function assign() {
  const { task } = state.suggestions;
  const people = [...document.querySelectorAll("input.pick-person:checked")].map((x) => Number(x.value));
  if (!people.length) return;
  const current = state.tasks.find((x) => x.id === task.id) || task;
  try {
    await api(`/api/tasks/${task.id}/assign`, { method: "POST", body: { version: current.version, people } });
    toast(t("command.task.assigned", { id: task.id, n: people.length }));
    state.suggestions = null;
    clear($("suggestions"));
    refresh("tasks", "summary");
  } catch (error) {
    toast(problemText(error), { bad: true });
    refresh("tasks");
  }
}

export async function declare(event) {
  event.preventDefault();
  const communities = [...$("declare-communities").selectedOptions].map((o) => o.value);
  const body = {
    type: $("declare-type").value,
    level: $("declare-level").value,
    title: $("declare-title").value.trim(),
    communities,
    door_checks: $("declare-door-checks").checked,
  };
  try {
    const made = await api("/api/incidents", { method: "POST", body });
    toast(t("command.declared", { id: made.id }));
    localStorage.setItem(INCIDENT_KEY, String(made.id));
    event.target.reset();
    await run(loadIncidents);
    $("cc-declare").open = false;
    refresh(...INCIDENT_VIEWS);
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

export async function addRequest(event) {
  event.preventDefault();
  if (!incidentId()) return toast(t("command.no_incident"), { bad: true });
  const body = {
    community: $("request-community").value,
    item: $("request-item").value,
    quantity: Number($("request-quantity").value),
    priority: $("request-priority").value,
    source: $("request-source").value,
  };
  try {
    const made = await api(`/api/incidents/${incidentId()}/requests`, { method: "POST", body });
    toast(t("command.request.added", { id: made.id }));
    refresh("requests", "summary");
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

/** Respond or stand down. Standing down asks first (the button sits where 开始响应 was);
 * with work under way the service lists it, and the commander may cancel it with a reason
 * (its stock returns to its depot) or leave the incident responding. */
export async function advance(step, body) {
  if (step === "stand-down" && !body && !window.confirm(t("command.stand_down.confirm"))) return;
  try {
    await api(`/api/incidents/${incidentId()}/${step}`, { method: "POST", body });
    refresh("incidents", ...INCIDENT_VIEWS);
  } catch (error) {
    if (error?.problem?.code === "incident.open_work" && !body) {
      const reason = window.prompt(`${problemText(error)}\n\n${t("command.cancel_open.reason")}`);
      if (reason && reason.trim()) await advance(step, { cancel_open: true, reason: reason.trim() });
      return;
    }
    toast(problemText(error), { bad: true });
  }
}
