// A delivery run on the tablet: the vehicle, its stops in driving order (the receiving
// community, ETA, what to unload: items, quantities, lots) and, once the run is on its
// way, a receipt form per stop. Completing a stop goes through the outbox like every other
// step (one action, its own Idempotency-Key, sent once however often it travels).
import { h } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { label } from "/static/js/squad/state.js";
import { act, formError, wholeNumber } from "/static/js/squad/actions.js";

/** Where a stop unloads: a shelter (安置点) of the community by name, else the committee. */
const stopPlace = (stop) => (stop.shelter ? t("place.at_shelter", { shelter: stop.shelter.name, community: stop.community_name }) : stop.community_name);

/** The stops as they will be once their waiting receipts are sent. */
function waitingStops(task) {
  return new Set(task.waiting.filter((e) => e.ref.step === "stop").map((e) => e.ref.stop));
}

export function runFacts(task) {
  const v = task.vehicle;
  const done = task.stops.filter((s) => s.status === "done").length;
  return [
    t("squad.run.vehicle", { code: v.code, kind: label("admin.fleet.kind", v.kind), depot: v.depot_name }),
    t("squad.run.progress", { done, n: task.stops.length }),
  ];
}

export function runStops(task, work) {
  const waiting = waitingStops(task);
  const list = h("ol", { class: "run-stops", "aria-label": t("squad.run.stops") });
  for (const stop of task.stops) {
    const pending = stop.status === "pending" && !waiting.has(stop.id);
    list.append(
      h(
        "li",
        { class: `run-stop ${stop.status}`, id: `stop-${stop.id}`, dataset: { stop: stop.id, status: waiting.has(stop.id) ? "waiting" : stop.status } },
        h(
          "div",
          { class: "run-stop-head" },
          h("strong", {}, t("squad.run.stop", { seq: stop.seq, community: stopPlace(stop) })),
          h("span", { class: "run-eta" }, t("squad.run.eta", { time: fmtTime(stop.eta_at), trip: stop.trip })),
          h("span", { class: `badge ${stop.status === "done" ? "ok" : waiting.has(stop.id) ? "warn" : ""}` },
            waiting.has(stop.id) ? t("squad.run.waiting") : label("squad.run.status", stop.status)),
        ),
        h("ul", { class: "run-lines" }, ...stop.lines.map((line) => h("li", {}, lineText(line)))),
        stop.status === "done" ? h("p", { class: "note" }, receiptText(stop)) : null,
        pending && work && task.status === "en_route" ? stopForm(task, stop) : null,
      ),
    );
  }
  const sheet = h("a", { class: "btn run-sheet-link", href: `/print/run?task=${task.id}`, target: "_blank", rel: "noopener" }, t("squad.run.sheet"));
  return h("div", { class: "run" }, list, sheet);
}

function lineText(line) {
  const lots = line.lots.map((l) => l.lot_number).join("、");
  const got = line.received != null && line.received !== line.quantity ? ` (${t("squad.run.received", { n: line.received })})` : "";
  return `${line.item_name} ${fmtNumber(line.quantity)} ${label("squad.measure", line.unit)} · ${t("squad.run.lots", { lots })}${got}`;
}

function receiptText(stop) {
  const who = t("squad.run.signed", { receiver: stop.receiver, time: fmtTime(stop.done_at) });
  return stop.shortfall_reason ? `${who} · ${t("squad.task.failed_reason", { reason: stop.shortfall_reason })}` : who;
}

function stopForm(task, stop) {
  const id = (name) => `stop-${stop.id}-${name}`;
  const fields = stop.lines.map((line) =>
    h(
      "div",
      { class: "run-qty" },
      h("label", { for: id(`qty-${line.transfer}`) }, t("squad.run.delivered", { item: line.item_name })),
      h("input", { id: id(`qty-${line.transfer}`), name: `qty-${line.transfer}`, type: "number", inputmode: "numeric", min: 0, max: line.quantity, step: 1, value: line.quantity, dataset: { transfer: line.transfer, sent: line.quantity } }),
    ),
  );
  const form = h(
    "form",
    { class: "stop-form", novalidate: true },
    h("label", { for: id("receiver") }, t("squad.run.receiver")),
    h("input", { id: id("receiver"), name: "receiver", maxlength: 60, autocomplete: "name" }),
    ...fields,
    h("label", { for: id("reason") }, t("squad.task.shortfall")),
    h("input", { id: id("reason"), name: "reason", maxlength: 300 }),
    h("button", { type: "submit", class: "btn btn-primary" }, t("squad.run.complete_stop")),
    h("p", { class: "error", role: "alert", hidden: true, id: id("error") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const receiver = form.receiver.value.trim();
    if (!receiver) return formError(form, t("squad.form.need", { field: t("squad.run.receiver") }));
    const lines = [];
    for (const input of form.querySelectorAll("input[data-transfer]")) {
      const qty = wholeNumber(input, 0);
      if (qty == null || qty > Number(input.dataset.sent)) return formError(form, t("squad.form.bad_qty", { field: input.labels[0]?.textContent || "" }));
      if (qty < Number(input.dataset.sent)) lines.push({ transfer: Number(input.dataset.transfer), delivered: qty });
    }
    const reason = form.reason.value.trim();
    if (lines.length && !reason) return formError(form, t("squad.task.need_shortfall"));
    formError(form, "");
    const body = { version: task.version, receiver, lines };
    if (reason) body.shortfall_reason = reason;
    const text = `#${task.id} ${t("squad.run.stop_label", { seq: stop.seq, community: stopPlace(stop) })}`;
    act("task", `/api/tasks/${task.id}/stops/${stop.id}/complete`, body, text, { task: task.id, step: "stop", stop: stop.id });
  });
  return form;
}
