// A delivery run's sheet, to print and carry: the vehicle, its stops in driving order with
// ETA and load, then one delivery note (签收单) per stop: what is unloaded there (items,
// units, lots, expiry, quantity sent, a box for what arrived) and the signature lines of
// the driver and the receiver. Drawn from GET /api/tasks/{id}, which checks role and scope
// as for any read; the page itself is a shell (it opens offline from the cache).
import { api, me } from "/static/js/api.js";
import { clear, h, problemText } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";

const $ = (id) => document.getElementById(id);

const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};

function grid(headers, rows, numeric = []) {
  const cell = (tag, text, i) => h(tag, numeric.includes(i) ? { class: "num" } : {}, text);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((x, i) => cell("th", x, i)))),
    h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((x, i) => cell("td", x, i))))),
  );
}

function facts(pairs) {
  return h("dl", { class: "sheet-facts" }, ...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

const unit = (line) => label("squad.measure", line.unit);
// a stop at a shelter (安置点) names the shelter, with its community; else the committee's
const place = (s) => (s.shelter ? t("place.at_shelter", { shelter: s.shelter.name, community: s.community_name }) : s.community_name);

function overview(task, incident) {
  const v = task.vehicle;
  const rows = task.stops.map((s) => [
    String(s.seq),
    String(s.trip),
    place(s),
    fmtTime(s.eta_at),
    s.lines.map((l) => `${l.item_name} ${fmtNumber(l.quantity)}${unit(l)}`).join("；"),
    `${fmtNumber(Math.round(s.kg))} kg`,
    label("squad.run.status", s.status),
  ]);
  return h(
    "section",
    { class: "sheet-head" },
    h("h1", {}, t("runsheet.heading", { task: task.id })),
    facts([
      [t("runsheet.incident"), incident ? `#${incident.id} ${incident.title}` : `#${task.incident}`],
      [t("runsheet.vehicle"), `${v.code}（${label("admin.fleet.kind", v.kind)}）${v.name ? ` ${v.name}` : ""}`],
      [t("runsheet.depot"), v.depot_name],
      [t("runsheet.crew"), t("runsheet.crew_count", { n: task.assignees.length, needed: task.people_needed })],
      [t("runsheet.printed"), fmtTime(new Date().toISOString())],
    ]),
    grid(
      [t("runsheet.col.seq"), t("runsheet.col.trip"), t("runsheet.col.community"), t("runsheet.col.eta"), t("runsheet.col.load"), t("runsheet.col.kg"), t("runsheet.col.status")],
      rows,
      [0, 1, 5],
    ),
  );
}

function deliveryNote(task, stop) {
  const rows = stop.lines.flatMap((line) =>
    line.lots.map((lot, i) => [
      i === 0 ? line.item_name : "",
      unit(line),
      lot.lot_number,
      lot.expires_on || t("runsheet.no_expiry"),
      fmtNumber(lot.quantity),
      i === 0 && line.received != null ? fmtNumber(line.received) : "",
    ]),
  );
  const sign = (who) => h("div", { class: "signature" }, `${who}：`);
  return h(
    "section",
    { class: "note-card", id: `note-${stop.id}` },
    h("h2", {}, t("runsheet.note_title", { task: task.id, seq: stop.seq })),
    facts([
      [t("runsheet.from"), task.vehicle.depot_name],
      [t("runsheet.to"), place(stop)],
      [t("runsheet.col.eta"), fmtTime(stop.eta_at)],
      [t("runsheet.vehicle"), task.vehicle.code],
    ]),
    grid(
      [t("runsheet.col.item"), t("runsheet.col.unit"), t("runsheet.col.lot"), t("runsheet.col.expires"), t("runsheet.col.sent"), t("runsheet.col.received")],
      rows,
      [4, 5],
    ),
    h("p", {}, `${t("runsheet.shortfall")}：`, stop.shortfall_reason || h("span", { class: "blank" })),
    h(
      "div",
      { class: "signatures" },
      sign(t("runsheet.sign.driver")),
      sign(t("runsheet.sign.date")),
      sign(t("runsheet.sign.receiver")),
      sign(t("runsheet.sign.date")),
    ),
    stop.receiver ? h("p", { class: "note" }, t("squad.run.signed", { receiver: stop.receiver, time: fmtTime(stop.done_at) })) : null,
  );
}

async function start() {
  $("print").addEventListener("click", () => window.print());
  await me();
  const id = Number(new URLSearchParams(location.search).get("task"));
  if (!Number.isInteger(id) || id < 1) {
    $("sheet-status").textContent = t("runsheet.no_task");
    return;
  }
  try {
    const task = await api(`/api/tasks/${id}`);
    if (!task.vehicle) {
      $("sheet-status").textContent = t("runsheet.not_a_run", { task: id });
      return;
    }
    const incident = await api(`/api/incidents/${task.incident}`).catch(() => null);
    clear($("sheet")).append(overview(task, incident), ...task.stops.map((s) => deliveryNote(task, s)));
    $("sheet").classList.add("sheet");
    $("sheet-status").textContent = "";
    document.title = `${t("runsheet.heading", { task: id })} · ${t("app.short")}`;
  } catch (error) {
    $("sheet-status").textContent = problemText(error);
  }
}

start();
