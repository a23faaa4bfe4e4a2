// The command center's 12345 board (接诉即办): the three rates per street, and the tickets
// still to be worked, new and overdue ones first, grouped by street and filtered by
// street, view and category; a commander dispatches a ticket to a street or community or
// returns it, a street leader passes one on inside their street. The service decides
// scope and every step; the board shows what it said.
import { api } from "/static/js/api.js";
import { clear, h, problemText, table, toast } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, gate, itemName, may, state } from "/static/js/command/state.js";
import { FINISHED, categoryName, deadlineBadge, percent, placeName, statusName, ticketNumber, urgencyBadge } from "/static/js/tickets.js";

export const hotline = { tickets: [], figures: null, acting: null, categories: [] };
const NEW = new Set(["received", "returned"]); // waiting for the district to dispatch them
const ASSIGNABLE = new Set(["received", "assigned", "returned"]);
const RETURNABLE = new Set(["assigned", "in_progress"]);
const URGENT_FIRST = ["critical", "urgent", "normal"];

/** The tickets in the user's scope: the newest 200 and every overdue one, and the figures. */
export async function loadHotline() {
  if (!may("hotline.read")) {
    $("tab-hotline").hidden = true;
    return;
  }
  const [recent, overdue, figures] = await Promise.all([
    api("/api/hotline/tickets?limit=200"),
    api("/api/hotline/tickets?overdue=true&limit=200"),
    api("/api/hotline/figures"),
  ]);
  const byId = new Map([...recent, ...overdue].map((x) => [x.id, x]));
  hotline.tickets = [...byId.values()];
  hotline.figures = figures;
  renderHotline();
}

/** Fill the filters and the place choice once the streets and communities are known. */
export function fillHotlineForms(categories) {
  hotline.categories = categories;
  const street = $("hotline-street");
  street.append(h("option", { value: "*" }, t("command.hotline.filter.all_streets")), h("option", { value: "" }, t("command.hotline.held")));
  for (const s of state.streets.values()) street.append(h("option", { value: s.code }, s.name));
  const category = $("hotline-category");
  category.append(h("option", { value: "" }, t("command.hotline.filter.all_categories")));
  categories.forEach((c) => category.append(h("option", { value: c }, categoryName(c))));
  const place = $("hotline-place");
  const own = state.user.street; // a street leader passes a ticket on inside their street
  for (const s of state.streets.values()) {
    if (own && s.code !== own) continue;
    const communities = [...state.communities.values()].filter((c) => c.street === s.code);
    place.append(
      h(
        "optgroup",
        { label: s.name },
        own ? null : h("option", { value: `street:${s.code}` }, t("command.hotline.street_option", { street: s.name })),
        communities.map((c) => h("option", { value: `community:${c.code}` }, c.name)),
      ),
    );
  }
  for (const id of ["hotline-street", "hotline-view", "hotline-category"]) $(id).addEventListener("change", renderHotline);
  $("hotline-act").addEventListener("submit", (event) => {
    event.preventDefault();
    assignTicket();
  });
  $("hotline-return").addEventListener("click", returnTicket);
  $("hotline-merge").addEventListener("click", mergeTicket);
  $("hotline-request").addEventListener("click", requestFromTicket);
  gate($("hotline-merge"), "hotline.edit");
  gate($("hotline-request"), "hotline.edit");
  $("hotline-task").addEventListener("click", taskFromTicket);
  gate($("hotline-task"), "hotline.edit");
  $("hotline-cancel").addEventListener("click", () => closeAct());
  gate($("hotline-assign"), "hotline.assign");
  gate($("hotline-return"), "hotline.work");
}

function shown() {
  const street = $("hotline-street").value;
  const view = $("hotline-view").value;
  const category = $("hotline-category").value;
  return hotline.tickets.filter((x) => {
    if (street !== "*" && (x.street || "") !== street) return false;
    if (category && x.category !== category) return false;
    if (view === "new") return NEW.has(x.status);
    if (view === "overdue") return x.overdue;
    return view === "all" || !FINISHED.has(x.status);
  });
}

/** New and overdue first, then the most urgent, then the newest. */
function order(a, b) {
  return (
    NEW.has(b.status) - NEW.has(a.status) ||
    b.overdue - a.overdue ||
    b.nearly_due - a.nearly_due ||
    URGENT_FIRST.indexOf(a.urgency) - URGENT_FIRST.indexOf(b.urgency) ||
    b.received_at.localeCompare(a.received_at)
  );
}

export function renderHotline() {
  renderFigures();
  const groups = new Map([["", []]]); // held by the district first, then the streets in order
  for (const s of state.streets.keys()) groups.set(s, []);
  for (const x of shown().sort(order)) {
    if (!groups.has(x.street || "")) groups.set(x.street || "", []);
    groups.get(x.street || "").push(x);
  }
  const board = clear($("hotline-board"));
  for (const [street, tickets] of groups) {
    if (!tickets.length) continue;
    const name = street ? state.streets.get(street)?.name || tickets[0].street_name : t("command.hotline.held");
    board.append(
      h(
        "section",
        { class: "hotline-group", dataset: { street } },
        h("h3", {}, t("command.hotline.group", { street: name, n: fmtNumber(tickets.length) })),
        ticketTable(tickets),
      ),
    );
  }
  if (!board.children.length) board.append(h("p", { class: "note" }, t("command.hotline.none")));
  const waiting = hotline.tickets.filter((x) => NEW.has(x.status) || x.overdue).length;
  $("tab-hotline-n").textContent = waiting ? String(waiting) : "";
}

function ticketTable(tickets) {
  const rows = tickets.map((x) => [
    h("span", {}, ticketNumber(x, `hotline-no-${x.id}`), h("br"), fmtTime(x.received_at)),
    h("span", {}, categoryName(x.category), " ", urgencyBadge(x.urgency)),
    h("span", { class: "hotline-place" }, placeName(x), x.address && !x.community_name ? h("br") : null, x.address && !x.community_name ? x.address : null),
    h("span", {}, h("span", { class: "badge hotline-status", dataset: { status: x.status } }, statusName(x.status)), " ", FINISHED.has(x.status) ? null : deadlineBadge(x)),
    h("span", { class: "hotline-caller" }, x.caller_name || "", " ", x.caller_phone ? h("span", { class: "phone" }, x.caller_phone) : null),
    h("span", { class: "hotline-content" }, x.content, x.duplicates.length ? h("span", { class: "badge warn" }, t("hotline.duplicates", { n: x.duplicates.length })) : null, x.reply_reminder ? h("span", { class: "badge warn" }, t("hotline.reminder")) : null),
    actButton(x),
  ]);
  const wrap = table(
    [t("command.hotline.col.number"), t("command.hotline.col.category"), t("command.hotline.col.community"), t("command.hotline.col.status"), t("command.hotline.col.caller"), t("command.hotline.col.content"), ""],
    rows,
  );
  wrap.querySelectorAll("tbody tr").forEach((tr, i) => {
    if (tickets[i]) tr.dataset.ticket = tickets[i].id;
  });
  return wrap;
}

function actButton(ticket) {
  if (FINISHED.has(ticket.status) || ticket.merged_into) return "";
  const button = h("button", { type: "button", class: "btn hotline-act", "aria-describedby": `hotline-no-${ticket.id}`, onclick: () => openAct(ticket) }, t("command.hotline.act"));
  return gate(button, "hotline.work");
}

function openAct(ticket) {
  hotline.acting = ticket;
  const form = $("hotline-act");
  clear($("hotline-act-title")).append(t("command.hotline.act_title", { number: "" }), ticketNumber(ticket));
  $("hotline-assign-row").hidden = !ASSIGNABLE.has(ticket.status);
  $("hotline-return-row").hidden = !RETURNABLE.has(ticket.status);
  const suggested = ticket.community ? `community:${ticket.community}` : ticket.street ? `street:${ticket.street}` : "";
  if ([...$("hotline-place").options].some((o) => o.value === suggested)) $("hotline-place").value = suggested;
  $("hotline-reason").value = "";
  fillFollowUps(ticket);
  form.hidden = false;
  form.scrollIntoView({ block: "nearest" });
  (ASSIGNABLE.has(ticket.status) ? $("hotline-place") : $("hotline-reason")).focus();
}

function closeAct() {
  hotline.acting = null;
  $("hotline-act").hidden = true;
}

/** The ticket's current version: the board may have reloaded it since the form opened. */
function current() {
  const id = hotline.acting?.id;
  return hotline.tickets.find((x) => x.id === id) || hotline.acting;
}

async function assignTicket() {
  const ticket = current();
  const [kind, code] = $("hotline-place").value.split(":");
  if (!ticket || !code) return;
  const place = $("hotline-place").selectedOptions[0]?.textContent || "";
  await step(ticket, "assign", { [kind]: code }, t("command.hotline.assigned", { number: ticket.number, place }));
}

async function returnTicket() {
  const ticket = current();
  const reason = $("hotline-reason").value.trim();
  if (!ticket) return;
  if (!reason) {
    $("hotline-reason").focus();
    return toast(t("command.hotline.need_reason"), { bad: true });
  }
  await step(ticket, "return", { reason }, t("command.hotline.returned", { number: ticket.number }));
}

/** What else the ticket can lead to: merged into the open ticket it repeats, or a supply
 * request made from it in one step (the service fills in its community and source). */
function fillFollowUps(ticket) {
  const into = clear($("hotline-into"));
  for (const d of ticket.duplicates) {
    into.append(h("option", { value: String(d.id) }, `${d.number} · ${fmtTime(d.received_at)} · ${t(`hotline.duplicate.${d.reason}`)}`));
  }
  $("hotline-merge-row").hidden = !ticket.duplicates.length;
  const item = $("hotline-item");
  if (!item.options.length) for (const [code] of state.items) item.append(h("option", { value: code }, itemName(code)));
  const incident = clear($("hotline-incident"));
  for (const i of state.incidents) incident.append(h("option", { value: String(i.id) }, `#${i.id} ${i.title}`));
  if (ticket.incident) incident.value = String(ticket.incident);
  $("hotline-qty").value = "";
  $("hotline-request-row").hidden = !ticket.community || !state.incidents.length;
  $("hotline-task-row").hidden = $("hotline-request-row").hidden;
}

async function mergeTicket() {
  const ticket = current();
  const into = Number($("hotline-into").value);
  if (!ticket || !into) return;
  const target = ticket.duplicates.find((d) => d.id === into);
  if (!window.confirm(t("command.hotline.merge_confirm", { number: ticket.number, into: target?.number || "" }))) return;
  await step(ticket, "merge", { into }, t("command.hotline.merged", { number: ticket.number, into: target?.number || "" }));
}

/** A positive whole number typed in `input`, or null once the user is told (`message`). */
function wholeIn(input, message) {
  const value = Number(input.value);
  if (input.value !== "" && Number.isInteger(value) && value >= 1) return value;
  input.focus();
  toast(t(message), { bad: true });
  return null;
}

async function requestFromTicket() {
  const ticket = current();
  const quantity = wholeIn($("hotline-qty"), "command.hotline.need_qty");
  if (!ticket || !quantity) return;
  const body = { item: $("hotline-item").value, quantity, incident: Number($("hotline-incident").value) };
  await follow(ticket, "requests", body, t("command.hotline.requested", { number: ticket.number, qty: quantity, item: itemName(body.item) }));
}

async function taskFromTicket() {
  const ticket = current();
  const people = wholeIn($("hotline-task-people"), "command.hotline.need_people");
  if (!ticket || !people) return;
  const kind = $("hotline-task-kind").value;
  const body = { kind, people, incident: Number($("hotline-incident").value) };
  await follow(ticket, "tasks", body, t("command.hotline.tasked", { number: ticket.number, kind: t(`command.hotline.task.${kind}`) }));
}

/** A request or task made from the ticket (linked to it by the service). */
async function follow(ticket, what, body, done) {
  try {
    await api(`/api/hotline/tickets/${ticket.id}/${what}`, { method: "POST", body });
    toast(done);
    closeAct();
    loadFiguresSoon();
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

async function step(ticket, name, body, done) {
  try {
    const after = await api(`/api/hotline/tickets/${ticket.id}/${name}`, { method: "POST", body: { version: ticket.version, ...body } });
    hotline.tickets = hotline.tickets.map((x) => (x.id === after.id ? after : x));
    toast(done);
    closeAct();
    renderHotline();
    loadFiguresSoon();
  } catch (error) {
    toast(problemText(error), { bad: true });
    if (error.status === 412 || error.status === 409) loadHotline().catch(() => {});
  }
}

let figuresTimer = null;
function loadFiguresSoon() {
  clearTimeout(figuresTimer);
  figuresTimer = setTimeout(() => loadHotline().catch(() => {}), 300);
}

/** 响应率、解决率、满意率 per street (the district's row first), within the user's scope. */
function renderFigures() {
  const report = hotline.figures;
  if (!report) return;
  const row = (name, f) => [name, fmtNumber(f.tickets), percent(f.response_rate), percent(f.resolution_rate), percent(f.satisfaction_rate), fmtNumber(f.overdue_now)];
  const rows = [
    ...(state.user.street ? [] : [row(t("command.hotline.district"), report.district)]),
    ...report.streets.map((s) => row(s.code ? state.streets.get(s.code)?.name || s.name : t("command.hotline.held"), s.figures)),
  ];
  const wrap = table(
    ["hotline.col.street", "hotline.col.tickets", "hotline.col.response_rate", "hotline.col.resolution_rate", "hotline.col.satisfaction_rate", "hotline.col.overdue"].map((k) => t(`command.${k}`)),
    rows,
    { numeric: [1, 2, 3, 4, 5] },
  );
  wrap.id = "hotline-figures-table";
  clear($("hotline-figures")).append(wrap);
}
