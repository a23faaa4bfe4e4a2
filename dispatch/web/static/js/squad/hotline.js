// The squad tablet's 12345 tab: the tickets of my street or community (the service keeps
// the scope), each as it will be once its waiting steps are sent, with the steps this
// user may take: take it up, reply to the caller (how and what), return it as not ours,
// and, for the district's return visit, the caller's rating. Every step goes through the
// outbox under its own Idempotency-Key, so a step taken offline is sent once, later.
import { api } from "/static/js/api.js";
import { clear, h, problemText, toast } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, can, CHANNELS, HOTLINE_AFTER, RATINGS, state } from "/static/js/squad/state.js";
import { failed, read } from "/static/js/squad/loaders.js";
import { act, formError } from "/static/js/squad/actions.js";
import { preserving } from "/static/js/squad/tasks.js";
import { FINISHED, categoryName, channelName, deadlineBadge, percent, placeName, ratingName, solvedName, statusName, ticketNumber, urgencyBadge } from "/static/js/tickets.js";

const WORKING = new Set(["assigned", "in_progress"]);

export async function loadTickets() {
  if (!can("hotline.read")) {
    $("tab-hotline").hidden = true;
    return;
  }
  try {
    // district roles pick a street on the tablet; a street's or community's scope is the service's
    const district = !state.user.street && !state.user.community;
    const fetched = await read(`/api/hotline/tickets?limit=200${district ? `&street=${state.street}` : ""}`);
    state.tickets = newest(fetched);
    renderTickets();
  } catch (error) {
    failed($("ticket-list"), error);
  }
  loadRates();
}

/** The three rates the street (or community) is assessed on, as the board shows them. */
async function loadRates() {
  try {
    const report = await read("/api/hotline/figures");
    const mine = state.community
      ? report.communities.find((c) => c.code === state.community)
      : report.streets.find((s) => s.code === state.street);
    const f = mine?.figures;
    $("ticket-figures").textContent = f
      ? t("squad.hotline.rates", { name: mine.name, n: fmtNumber(f.tickets), response: percent(f.response_rate), resolution: percent(f.resolution_rate), satisfaction: percent(f.satisfaction_rate), overdue: fmtNumber(f.overdue_now) })
      : t("squad.hotline.no_rates");
  } catch {
    $("ticket-figures").textContent = ""; // offline with nothing cached: the tickets say enough
  }
}

/** What was read, except where the tablet knows a later version (the answer of a step it
 * sent, when the read was the worker's copy from before it, offline). */
function newest(fetched) {
  const known = new Map((state.tickets || []).map((x) => [x.id, x]));
  return fetched.map((x) => (known.get(x.id)?.version > x.version ? known.get(x.id) : x));
}

/** The ticket as it will be once its waiting steps are sent (each step adds one version). */
function projected(ticket) {
  const steps = state.pending.filter((e) => e.kind === "hotline" && e.ref.ticket === ticket.id && e.state === "waiting");
  let view = { ...ticket, waiting: steps };
  for (const { ref, body } of steps) {
    view = { ...view, status: HOTLINE_AFTER[ref.step] || view.status, version: view.version + 1 };
    if (ref.step === "reply") Object.assign(view, { reply_channel: body.channel, reply_content: body.content, replied_at: null });
    if (ref.step === "rate") Object.assign(view, { rating: body.rating, solved: body.solved });
  }
  return view;
}

export function renderTickets() {
  if (!state.tickets) return;
  preserving($("panel-hotline"), drawTickets);
}

function drawTickets() {
  const open = [];
  const finished = [];
  for (const ticket of state.tickets) {
    const view = projected(ticket);
    (FINISHED.has(view.status) || view.status === "returned" ? finished : open).push(view);
  }
  clear($("ticket-list")).append(...(open.length ? open.map(ticketCard) : [h("li", { class: "note" }, t("squad.hotline.none"))]));
  clear($("ticket-finished-list")).append(...finished.slice(0, 30).map(ticketCard));
  $("tickets-finished").hidden = finished.length === 0;
  const todo = open.filter((x) => WORKING.has(x.status)).length;
  $("hotline-badge").textContent = String(todo);
  $("hotline-badge").hidden = todo === 0;
}

function ticketCard(x) {
  const facts = [
    t("squad.hotline.received", { time: fmtTime(x.received_at) }),
    x.caller_name || x.caller_phone ? t("squad.hotline.caller", { name: x.caller_name || "", phone: x.caller_phone || "" }) : null,
    x.address ? t("squad.hotline.address", { address: x.address }) : null,
  ].filter(Boolean);
  const replied = x.reply_content && t("squad.hotline.replied", { channel: channelName(x.reply_channel), time: fmtTime(x.replied_at), content: x.reply_content });
  return h(
    "li",
    { class: `panel task ticket ${x.status}`, id: `ticket-${x.id}`, dataset: { ticket: x.id, status: x.status } },
    h(
      "div",
      { class: "task-head" },
      h("h3", {}, ticketNumber(x), ` ${categoryName(x.category)} · ${placeName(x)}`),
      h("span", { class: "badge ticket-status" }, statusName(x.status)),
      urgencyBadge(x.urgency),
      FINISHED.has(x.status) ? null : deadlineBadge(x),
      x.waiting.length ? h("span", { class: "badge warn" }, t("squad.task.waiting", { n: x.waiting.length })) : null,
    ),
    h("p", { class: "ticket-content" }, x.content),
    h("p", { class: "task-facts" }, facts.join(" · "), revealButton(x)),
    replied ? h("p", { class: "ticket-reply" }, replied) : null,
    x.rating ? h("p", { class: "ticket-rating" }, t("squad.hotline.rated", { rating: ratingName(x.rating), solved: solvedName(x.solved) })) : null,
    x.return_reason ? h("p", { class: "note" }, t("squad.hotline.returned", { reason: x.return_reason })) : null,
    x.reply_reminder && x.status === "in_progress" ? h("p", { class: "badge warn" }, t("hotline.reminder")) : null,
    FINISHED.has(x.status) ? null : ticketActions(x),
  );
}

function ticketStep(ticket, name, body = {}) {
  const text = t("squad.hotline.label", { number: ticket.number, step: t(`hotline.step.${name}`) });
  act("hotline", `/api/hotline/tickets/${ticket.id}/${name}`, { version: ticket.version, ...body }, text, { ticket: ticket.id, step: name });
}

function ticketActions(x) {
  const box = h("div", { class: "task-actions" });
  const work = can("hotline.work");
  if (x.status === "assigned" && work) {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => ticketStep(x, "start") }, t("squad.hotline.start")));
  }
  if (x.status === "in_progress" && work) box.append(replyForm(x));
  if (x.status === "replied" && !x.rating) {
    box.append(can("hotline.rate") ? rateForm(x) : h("p", { class: "note" }, t("squad.hotline.rate_by_district")));
  }
  if (x.status === "replied" && x.rating && can("hotline.close")) {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => ticketStep(x, "close") }, t("squad.hotline.close")));
  }
  if (WORKING.has(x.status) && work) box.append(returnForm(x));
  return box;
}

function replyForm(x) {
  const channel = `reply-channel-${x.id}`;
  const content = `reply-content-${x.id}`;
  const form = h(
    "form",
    { class: "form reply-form", novalidate: true },
    h("label", { for: channel }, t("squad.hotline.reply_channel")),
    h("select", { id: channel, name: "channel" }, CHANNELS.map((c) => h("option", { value: c }, channelName(c)))),
    h("label", { for: content }, t("squad.hotline.reply_content")),
    h("textarea", { id: content, name: "content", rows: 3, maxlength: 2000 }),
    h("p", { class: "error", role: "alert", hidden: true, id: `reply-error-${x.id}` }),
    h("button", { type: "submit", class: "btn btn-primary" }, t("squad.hotline.reply")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = form.content.value.trim();
    if (!text) return formError(form, t("squad.hotline.need_content"));
    ticketStep(x, "reply", { channel: form.channel.value, content: text });
    form.content.value = "";
  });
  return form;
}

/** Radio buttons for one choice; `name` is unique to the ticket so cards never share. */
function choices(name, legend, options) {
  return h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, legend),
    options.map(([value, text]) => {
      const id = `${name}-${value}`;
      return h("span", { class: "check" }, h("input", { type: "radio", id, name, value }), h("label", { for: id }, text));
    }),
  );
}

function rateForm(x) {
  const rating = `rating-${x.id}`;
  const solved = `solved-${x.id}`;
  const form = h(
    "form",
    { class: "form rate-form", novalidate: true },
    choices(rating, t("squad.hotline.rating"), RATINGS.map((r) => [r, ratingName(r)])),
    choices(solved, t("squad.hotline.solved"), [["yes", solvedName(true)], ["no", solvedName(false)]]),
    h("p", { class: "error", role: "alert", hidden: true, id: `rate-error-${x.id}` }),
    h("button", { type: "submit", class: "btn btn-primary" }, t("squad.hotline.rate")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = (name) => form.querySelector(`input[name="${name}"]:checked`)?.value;
    if (!picked(rating) || !picked(solved)) return formError(form, t("squad.hotline.need_rating"));
    ticketStep(x, "rate", { rating: picked(rating), solved: picked(solved) === "yes" });
  });
  return form;
}

const returning = new Set(); // tickets whose return form is open (kept across re-renders)

/** "Not ours": a button that opens the reason form (a hidden form is out of the Tab order). */
function returnForm(x) {
  const id = `return-reason-${x.id}`;
  const form = h(
    "form",
    { class: "form-inline fail-form", novalidate: true, id: `return-form-${x.id}`, hidden: !returning.has(x.id) },
    h("label", { for: id }, t("squad.hotline.return_reason")),
    h("input", { id, name: "reason", maxlength: 500 }),
    h("button", { type: "submit", class: "btn btn-danger" }, t("squad.hotline.return")),
    h("p", { class: "error", role: "alert", hidden: true, id: `return-error-${x.id}` }),
  );
  const toggle = h("button", { type: "button", class: "btn return-toggle", "aria-expanded": String(returning.has(x.id)), "aria-controls": form.id }, t("squad.hotline.return_box"));
  toggle.addEventListener("click", () => {
    const open = form.hidden;
    form.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) returning.add(x.id);
    else returning.delete(x.id);
    if (open) form.reason.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = form.reason.value.trim();
    if (!reason) return formError(form, t("squad.hotline.need_reason"));
    returning.delete(x.id);
    ticketStep(x, "return", { reason });
  });
  return h("div", { class: "return-box" }, toggle, form);
}

/** The caller's whole number to call back: asked of the service each time (audited, never
 * cached, so not offline), for the roles that may see it. */
function revealButton(x) {
  if (!x.caller_phone || !can("hotline.reveal")) return null;
  const button = h("button", { type: "button", class: "btn reveal" }, t("squad.hotline.reveal"));
  button.addEventListener("click", async () => {
    try {
      const whole = await api(`/api/hotline/tickets/${x.id}/reveal`, { method: "POST" });
      button.replaceWith(h("a", { class: "btn", href: `tel:${whole.caller_phone}` }, t("squad.hotline.call", { phone: whole.caller_phone })));
    } catch (error) {
      toast(error instanceof TypeError ? t("squad.offline_no_copy") : problemText(error), { bad: true });
    }
  });
  return h("span", {}, " ", button);
}
