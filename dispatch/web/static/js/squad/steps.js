// A task's steps beyond one tap: sharing the vehicle's position while a delivery is on its
// way, completing (with what was delivered or checked), failing with a reason, and
// choosing people to assign.
import { api, ApiError } from "/static/js/api.js";
import { clear, h, problemText, toast } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { label, SEP, state } from "/static/js/squad/state.js";
import { read } from "/static/js/squad/loaders.js";
import { formError, wholeNumber } from "/static/js/squad/actions.js";
import { renderTasks, step } from "/static/js/squad/tasks.js";

// --- where the vehicle is: GPS fixes while a delivery is on its way ------------------------
// Only when the person holding the tablet says they are on the vehicle (a tablet left at
// the depot must not report the depot). Not through the outbox: a fix that could not be
// sent is stale by the next one, so nothing is kept to resend.

const SHARE_EVERY_MS = 30_000;
export const sharing = new Map(); // task id -> { watch, last }

/** On its way as the service knows it (not only as the outbox will make it). */
export function onItsWay(id) {
  const known = state.tasks.find((x) => x.id === id);
  return known?.kind === "delivery" && known.status === "en_route";
}

export function shareButton(task) {
  if (!onItsWay(task.id) || !navigator.geolocation) return null;
  const on = sharing.has(task.id);
  return h(
    "button",
    { type: "button", class: `btn share-position${on ? " btn-primary" : ""}`, "aria-pressed": String(on), onclick: () => toggleSharing(task.id) },
    t(on ? "squad.task.sharing" : "squad.task.share"),
  );
}

function toggleSharing(id) {
  if (sharing.has(id)) stopSharing(id);
  else startSharing(id);
  renderTasks();
}

function startSharing(id) {
  const entry = { watch: null, last: 0 };
  sharing.set(id, entry);
  entry.watch = navigator.geolocation.watchPosition(
    (position) => sendFix(id, position, entry),
    () => {
      toast(t("squad.task.no_position"), { bad: true });
      stopSharing(id);
      renderTasks();
    },
    { enableHighAccuracy: true, maximumAge: 10_000, timeout: 60_000 },
  );
}

export function stopSharing(id) {
  const entry = sharing.get(id);
  if (entry && entry.watch != null) navigator.geolocation.clearWatch(entry.watch);
  sharing.delete(id);
}

async function sendFix(id, position, entry) {
  if (Date.now() - entry.last < SHARE_EVERY_MS) return;
  entry.last = Date.now();
  const c = position.coords;
  const body = { lat: c.latitude, lon: c.longitude, accuracy_m: Math.min(c.accuracy, 10_000), at: new Date(position.timestamp).toISOString() };
  try {
    await api(`/api/tasks/${id}/positions`, { method: "POST", body });
  } catch (error) {
    const refused = error instanceof ApiError && error.status < 500 && !error.problem?.retry;
    if (refused && ![401, 408, 429].includes(error.status)) {
      stopSharing(id); // not on its way any more, or not this user's: say so once, and stop
      toast(`${t("squad.task.sharing_stopped")}: ${problemText(error)}`, { bad: true });
      renderTasks();
    }
  }
}

export function completeForm(task, load) {
  const qtyId = `complete-qty-${task.id}`;
  const reasonId = `complete-reason-${task.id}`;
  const delivery = task.kind === "delivery";
  const planned = delivery ? load?.qty : task.households.length;
  const form = h(
    "form",
    { class: "form-inline complete-form", novalidate: true },
    h("label", { for: qtyId }, delivery ? t("squad.task.delivered") : t("squad.task.checked")),
    h("input", { id: qtyId, name: "qty", type: "number", inputmode: "numeric", min: 0, step: 1, value: planned ?? "" }),
    delivery ? h("label", { for: reasonId }, t("squad.task.shortfall")) : null,
    delivery ? h("input", { id: reasonId, name: "reason", maxlength: 500 }) : null,
    h("button", { type: "submit", class: "btn btn-primary" }, delivery ? t("squad.task.complete") : t("squad.task.done")),
    h("p", { class: "error", role: "alert", hidden: true, id: `complete-error-${task.id}` }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const qty = wholeNumber(form.qty, 0);
    if (qty == null) return formError(form, t("squad.form.bad_qty", { field: form.qty.labels[0].textContent }));
    if (!delivery) return step(task, "complete", { households_checked: qty }, t("squad.task.done_label", { n: qty }));
    const reason = form.reason.value.trim();
    if (planned != null && qty < planned && !reason) return formError(form, t("squad.task.need_shortfall"));
    const body = { delivered: qty };
    if (reason) body.shortfall_reason = reason;
    step(task, "complete", body, t("squad.task.complete_label", { n: qty }));
  });
  return form;
}

export function failForm(task) {
  const id = `fail-reason-${task.id}`;
  const form = h(
    "form",
    { class: "form-inline fail-form", novalidate: true },
    h("label", { for: id }, t("squad.task.fail_reason")),
    h("input", { id, name: "reason", maxlength: 500 }),
    h("button", { type: "submit", class: "btn btn-danger" }, t("squad.task.fail")),
    h("p", { class: "error", role: "alert", hidden: true, id: `fail-error-${task.id}` }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = form.reason.value.trim();
    if (!reason) return formError(form, t("squad.form.need", { field: t("squad.task.fail_reason") }));
    step(task, "fail", { reason }, t("squad.task.fail_label", { reason }));
  });
  return h("details", { class: "fail-box", id: `fail-box-${task.id}` }, h("summary", {}, t("squad.task.cannot")), form);
}

export function assignForm(task) {
  const box = h("div", { class: "assign" });
  if (state.offers.has(task.id)) {
    box.append(assignChoices(task, state.offers.get(task.id)));
    return box;
  }
  const button = h("button", { type: "button", class: "btn btn-primary" }, t("squad.task.find_people"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const offer = await read(`/api/tasks/${task.id}/suggestions?on_duty_only=false`);
      state.offers.set(task.id, offer);
      clear(box).append(assignChoices(task, offer));
    } catch (error) {
      button.disabled = false;
      toast(error instanceof TypeError ? t("squad.offline_no_copy") : problemText(error), { bad: true });
    }
  });
  box.append(button);
  return box;
}

function assignChoices(task, offer) {
  if (!offer.suggestions.length) return h("p", { class: "note" }, t("squad.task.nobody"));
  const form = h("form", { class: "assign-form", novalidate: true });
  const list = h("fieldset", {}, h("legend", {}, t("squad.task.choose_people", { n: offer.wanted })));
  offer.suggestions.forEach((s, i) => {
    const id = `assign-${task.id}-${i}`;
    list.append(
      h(
        "div",
        { class: "check" },
        h("input", { type: "checkbox", id, value: s.person_id, checked: true }),
        h("label", { for: id }, `${s.name} · ${s.skills.map((k) => label("squad.skill", k)).join(SEP)} · ${t("squad.task.travel", { n: Math.round(s.travel_min) })}`),
      ),
    );
  });
  form.append(list, h("button", { type: "submit", class: "btn btn-primary" }, t("squad.task.assign")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const people = [...form.querySelectorAll("input:checked")].map((i) => Number(i.value));
    if (!people.length) return toast(t("squad.task.choose_someone"), { bad: true });
    state.offers.delete(task.id);
    step(task, "assign", { people }, t("squad.task.assign_label", { n: people.length }));
  });
  return form;
}
