// What the squad records: receipts, issues and counts go into the outbox (sent now or when
// the network returns); the outbox on screen, and what to do when it sends or is refused.
import { currentExercise } from "/static/js/api.js";
import { clear, codedText, h, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, t } from "/static/js/i18n.js";
import { $, can, communityName, depotName, itemName, PRIORITIES, state, unitOf } from "/static/js/squad/state.js";
import { reloadSoon } from "/static/js/squad/loaders.js";
import { renderStock } from "/static/js/squad/panels.js";
import { loadTasks, renderTasks } from "/static/js/squad/tasks.js";
import { loadTickets, renderTickets } from "/static/js/squad/hotline.js";
import * as outbox from "/static/js/outbox.js";

// --- the outbox on screen --------------------------------------------------------------

export async function refreshOutbox() {
  state.pending = await outbox.entries();
  const waiting = state.pending.filter((e) => e.state === "waiting");
  const refused = state.pending.filter((e) => e.state === "refused");
  const count = $("outbox-count");
  count.textContent = waiting.length ? t("squad.outbox.waiting", { n: waiting.length }) : t("squad.outbox.all_sent");
  count.classList.toggle("has-waiting", waiting.length > 0);
  count.dataset.waiting = String(waiting.length);
  $("outbox-send").hidden = waiting.length === 0;
  const others = await outbox.othersWaiting();
  clear($("outbox-waiting")).append(
    ...waiting.map((e) => h("li", { class: "waiting", dataset: { key: e.key } }, h("span", { class: "badge warn" }, t("squad.outbox.pending")), " ", e.label)),
    ...(others ? [h("li", { class: "note" }, t("squad.outbox.others", { n: others }))] : []),
  );
  $("outbox-refused-box").hidden = refused.length === 0;
  clear($("outbox-refused")).append(
    ...refused.map((e) =>
      h(
        "li",
        { class: "refused", dataset: { key: e.key } },
        h("span", { class: "badge bad" }, t("squad.outbox.refused_one")),
        " ",
        h("strong", {}, e.label),
        h("span", { class: "reason" }, reasonText(e.problem)),
        h("span", { class: "row-actions" },
          h("button", { type: "button", class: "btn", onclick: () => outbox.dismiss(e.key) }, t("squad.outbox.dismiss"))),
      ),
    ),
  );
  renderStock();
  renderTasks();
  renderTickets();
}

/** The service's reason, with the field it names and the figures of a shortage. */
function reasonText(problem) {
  if (!problem) return "";
  const parts = [codedText(problem, problem.detail)];
  if (problem.field) parts.push(t("squad.outbox.field", { field: problem.field }));
  if (problem.available != null) parts.push(t("squad.outbox.available", { n: problem.available }));
  return `${t("squad.outbox.reason")}: ${parts.join(" · ")} (${problem.status})`;
}

window.addEventListener("outbox-changed", (event) => {
  const { sent, refused, recorded } = event.detail || {};
  refreshOutbox();
  if (sent) {
    // keep showing the sent action's effect until the reloaded view includes it
    if (sent.kind === "task" && event.detail.result?.id) {
      state.tasks = state.tasks.map((task) => (task.id === event.detail.result.id ? event.detail.result : task));
    } else if (sent.kind === "hotline" && event.detail.result?.id && state.tickets) {
      state.tickets = state.tickets.map((x) => (x.id === event.detail.result.id ? event.detail.result : x));
    } else if (sent.ref?.depot) {
      state.justSent.push({ ...sent, sentAt: Date.now() });
    }
    toast(t("squad.outbox.sent_one", { label: sent.label }));
    reloadSoon();
  }
  if (refused) {
    const status = refused.problem.status;
    if (refused.kind === "hotline" && (status === 412 || status === 409)) {
      toast(`${refused.label}: ${status === 412 ? t("squad.hotline.stale") : codedText(refused.problem, refused.problem.detail)}`, { bad: true, ms: 6000 });
      loadTickets();
    } else if (refused.kind === "task" && status === 412) {
      toast(t("squad.task.stale"), { bad: true, ms: 6000 });
      loadTasks();
    } else if (refused.kind === "task" && status === 409) {
      toast(t("squad.task.illegal", { reason: refused.problem.detail }), { bad: true, ms: 6000 });
      loadTasks();
    } else {
      toast(`${refused.label}: ${reasonText(refused.problem)}`, { bad: true, ms: 6000 });
    }
  }
  if (recorded && !navigator.onLine) toast(t("squad.outbox.saved_offline"));
});

/** Record an action in the outbox (it is sent from there at once when possible). */
export function act(kind, path, body, text, ref = {}) {
  return outbox.record({ kind, path, body, label: text, ref, exercise: currentExercise()?.id ?? null });
}

// --- recording receipts, issues and counts ----------------------------------------------

export function options(select, choices, { blank } = {}) {
  const keep = select.value;
  clear(select);
  if (blank) select.append(h("option", { value: "" }, blank));
  for (const [value, text] of choices) select.append(h("option", { value }, text));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

export function fillRecordForms() {
  const writer = can("stock.issue") || can("stock.receive") || can("stock.count");
  const reporter = can("requests.create");
  $("tab-record").hidden = !writer && !reporter;
  for (const id of ["issue-form", "receipt-form", "count-form"]) $(id).hidden = !writer;
  $("need-form").hidden = !reporter;
  if (reporter) fillNeedForm();
  if (!writer) return;
  const depots = state.depots.map((d) => [d.code, d.name]);
  const items = [...state.items.values()].map((i) => [i.code, itemName(i.code)]);
  for (const id of ["issue-depot", "receipt-depot", "count-depot"]) options($(id), depots);
  options($("issue-community"), [...state.communities.values()].map((c) => [c.code, c.name]));
  options($("issue-item"), items);
  options($("receipt-item"), items);
  options($("issue-incident"), state.incidents.map((i) => [String(i.id), `#${i.id} ${i.title}`]), { blank: t("squad.field.no_incident") });
  fillIssueLots();
  fillReceiptLots();
  fillCountSheet();
}

/** The need form: the incidents under way, the user's communities, items, priorities. */
export function fillNeedForm() {
  options($("need-incident"), state.incidents.map((i) => [String(i.id), `#${i.id} ${i.title}`]));
  const communities = [...state.communities.values()].filter((c) => !state.community || c.code === state.community);
  options($("need-community"), communities.map((c) => [c.code, c.name]));
  options($("need-item"), [...state.items.values()].map((i) => [i.code, itemName(i.code)]));
  options($("need-priority"), PRIORITIES.map((p) => [p, t(`command.priority.${p}`)]));
  if (!$("need-priority").dataset.touched) $("need-priority").value = "normal";
}

export function fillIssueLots() {
  const depot = $("issue-depot").value;
  const item = $("issue-item").value;
  const lots = state.stock.filter((l) => l.depot === depot && l.item === item && l.status !== "expired" && l.qty > 0);
  options(
    $("issue-lot"),
    lots.map((l) => [l.lot, `${l.lot} · ${fmtNumber(l.qty)} · ${l.expires_on ? fmtDate(l.expires_on) : t("squad.stock.no_expiry")}`]),
    { blank: t("squad.field.lot_auto") },
  );
}

export function fillReceiptLots() {
  const item = $("receipt-item").value;
  const known = [...new Set(state.stock.filter((l) => l.item === item).map((l) => l.lot))];
  clear($("receipt-lots")).append(...known.map((lot) => h("option", { value: lot })));
  const shelf = state.items.get(item)?.shelf_life_days;
  $("receipt-expires").required = Boolean(shelf);
}

export function fillCountSheet() {
  const depot = $("count-depot").value;
  const lines = state.stock.filter((l) => l.depot === depot);
  const rows = lines.map((l, i) => {
    const id = `count-${i}`;
    return [
      h("label", { for: id }, `${itemName(l.item)} · ${l.lot}`),
      l.expires_on ? fmtDate(l.expires_on) : "",
      fmtNumber(l.qty),
      h("input", { id, type: "number", inputmode: "numeric", min: 0, step: 1, value: l.qty, class: "count-input", dataset: { item: l.item, lot: l.lot, expected: l.qty } }),
    ];
  });
  clear($("count-sheet")).append(
    table([t("squad.col.item_lot"), t("squad.col.expires"), t("squad.col.expected"), t("squad.col.counted")], rows, { numeric: [2] }),
  );
}

export function formError(form, message) {
  const box = form.querySelector(".error");
  box.textContent = message || "";
  box.hidden = !message;
}

export function wholeNumber(input, min = 1) {
  const value = Number(input.value);
  return Number.isInteger(value) && value >= min && input.value !== "" ? value : null;
}

export function onIssue(event) {
  event.preventDefault();
  const form = event.target;
  const qty = wholeNumber(form.qty);
  const incident = form.incident.value ? Number(form.incident.value) : null;
  const purpose = form.purpose.value.trim();
  if (!form.depot.value || !form.community.value || !form.item.value) return formError(form, t("squad.form.choose"));
  if (!qty) return formError(form, t("squad.form.bad_qty", { field: t("squad.field.qty") }));
  if (!incident && !purpose) return formError(form, t("squad.form.need_purpose"));
  const known = lastKnown(form.depot.value, form.item.value, form.lot.value);
  const asked = { qty, have: known, unit: unitOf(form.item.value), item: itemName(form.item.value) };
  if (qty > known && !window.confirm(t("squad.issue.over_balance", asked))) return;
  formError(form, "");
  const line = { item: form.item.value, qty };
  if (form.lot.value) line.lot = form.lot.value;
  const body = { depot: form.depot.value, community: form.community.value, lines: [line] };
  if (incident) body.incident = incident;
  if (purpose) body.purpose = purpose;
  const text = t("squad.issue.label", { qty, unit: unitOf(line.item), item: itemName(line.item), community: communityName(body.community) });
  act("issue", "/api/stock/issues", body, text, { depot: body.depot });
  form.qty.value = "";
  form.purpose.value = "";
}

/** A community's need reported from the tablet (offline too: through the outbox). */
export function onNeed(event) {
  event.preventDefault();
  const form = event.target;
  const quantity = wholeNumber(form.quantity);
  if (!form.incident.value) return formError(form, t("squad.need.no_incident"));
  if (!form.community.value || !form.item.value) return formError(form, t("squad.form.choose"));
  if (!quantity) return formError(form, t("squad.form.bad_qty", { field: t("squad.field.qty") }));
  formError(form, "");
  const body = { community: form.community.value, item: form.item.value, quantity, priority: form.priority.value || "normal" };
  if (form.need_by.value) body.need_by = `${form.need_by.value}:00+08:00`; // the district's time
  const text = t("squad.need.label", { qty: quantity, unit: unitOf(body.item), item: itemName(body.item), community: communityName(body.community) });
  act("request", `/api/incidents/${Number(form.incident.value)}/requests`, body, text);
  form.quantity.value = "";
  form.need_by.value = "";
}

/** The last known usable stock of an item at a depot (of one lot, when one is named). */
function lastKnown(depot, item, lot) {
  return state.stock
    .filter((l) => l.depot === depot && l.item === item && l.status !== "expired" && (!lot || l.lot === lot))
    .reduce((sum, l) => sum + l.qty, 0);
}

export function onReceipt(event) {
  event.preventDefault();
  const form = event.target;
  const qty = wholeNumber(form.qty);
  const lot = form.lot.value.trim();
  if (!form.depot.value || !form.item.value) return formError(form, t("squad.form.choose"));
  if (!lot) return formError(form, t("squad.form.need", { field: t("squad.field.lot_number") }));
  if (!qty) return formError(form, t("squad.form.bad_qty", { field: t("squad.field.qty") }));
  if (form.expires_on.required && !form.expires_on.value && !state.stock.some((l) => l.item === form.item.value && l.lot === lot)) {
    return formError(form, t("squad.form.need", { field: t("squad.field.expires_on") }));
  }
  formError(form, "");
  const line = { item: form.item.value, lot, qty };
  if (form.expires_on.value) line.expires_on = form.expires_on.value;
  const body = { depot: form.depot.value, lines: [line] };
  if (form.note.value.trim()) body.note = form.note.value.trim();
  const text = t("squad.receipt.label", { qty, unit: unitOf(line.item), item: itemName(line.item), lot });
  act("receipt", "/api/stock/receipts", body, text, { depot: body.depot });
  form.qty.value = "";
  form.lot.value = "";
  form.note.value = "";
}

export function onCount(event) {
  event.preventDefault();
  const form = event.target;
  const inputs = [...form.querySelectorAll(".count-input")];
  if (!inputs.length) return formError(form, t("squad.count.nothing"));
  const lines = [];
  for (const input of inputs) {
    const counted = wholeNumber(input, 0);
    if (counted == null) return formError(form, t("squad.form.bad_qty", { field: input.labels[0]?.textContent || "" }));
    lines.push({ item: input.dataset.item, lot: input.dataset.lot, counted });
  }
  formError(form, "");
  const body = { depot: form.depot.value, lines };
  if (form.note.value.trim()) body.note = form.note.value.trim();
  const changes = inputs.filter((i) => Number(i.value) !== Number(i.dataset.expected)).length;
  const text = t("squad.count.label", { depot: depotName(body.depot), n: changes });
  act("count", "/api/stock/stocktakes", body, text, { depot: body.depot });
  form.note.value = "";
}
