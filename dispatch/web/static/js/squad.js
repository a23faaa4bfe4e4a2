// The street squad's tablet: my street's stock by depot, receipts, issues and counts, my
// tasks, and who is on duty. Works offline: the service worker serves the page and the last
// answers it saw, and every action goes through the outbox (IndexedDB), which sends it
// now or when the network returns, once, under the key it was given when recorded.
import { api, ApiError, currentExercise, me } from "/static/js/api.js";
import { clear, codedText, h, problemText, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, fmtTime, lang, t } from "/static/js/i18n.js";
import { subscribe } from "/static/js/live.js";
import * as outbox from "/static/js/outbox.js";

// Which roles may do what: mirrors dispatch/accounts/policy.py PERMISSIONS (a test compares
// the two). The API decides; this only hides what a role could never use.
const POLICY = {
  "stock.read": ["commander", "street_leader", "trainer", "viewer"],
  "stock.receive": ["commander", "street_leader"],
  "stock.issue": ["commander", "street_leader"],
  "stock.count": ["commander", "street_leader"],
  "tasks.assign": ["commander", "street_leader"],
  "tasks.work": ["commander", "street_leader", "community_worker", "volunteer"],
  "people.read": ["commander", "trainer", "viewer", "street_leader", "community_worker"],
  "pairings.read": ["commander", "street_leader", "community_worker", "trainer", "viewer"],
  "people.reveal": ["commander", "street_leader", "community_worker"],
};
const DISTRICT_WIDE = ["commander", "trainer", "viewer"];
const STREET_CHOICE = "dispatch.squad.street";
const ACTIVE = ["open", "assigned", "accepted", "en_route"];
const SEP = lang === "zh" ? "、" : ", ";

const state = {
  user: null,
  street: null,
  community: null, // a community-scoped user's own community
  streets: new Map(),
  depots: [],
  communities: new Map(),
  items: new Map(),
  incidents: [],
  stock: [],
  alerts: [],
  tasks: [],
  transfers: new Map(),
  pending: [], // this user's outbox entries
  staleSince: null,
  dutyCommunity: null,
  offers: new Map(), // task id -> people suggested for it, while the leader chooses
  justSent: [], // stock actions sent but not yet in the balances on screen
  allDepots: new Map(), // every depot's name (deliveries come from the district reserve too)
};

const $ = (id) => document.getElementById(id);
const can = (action) => POLICY[action].includes(state.user?.role);
const itemName = (code) => {
  const item = state.items.get(code);
  return item ? (lang === "zh" ? item.name_zh : item.name_en) : code;
};
const unitOf = (code) => (state.items.has(code) ? label("squad.measure", state.items.get(code).unit) : "");
const communityName = (code) => state.communities.get(code)?.name || code;
const depotName = (code) => state.allDepots.get(code)?.name || code;
const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};

// --- reading: the API through the service worker, noting answers served from its cache ---

async function read(path) {
  const response = await api(path, { raw: true });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body || {});
  const stored = response.headers.get("X-Dispatch-Stored-At");
  if (stored) noteStale(stored); // only copies from the worker's cache carry the stamp
  return body;
}

function noteStale(iso) {
  if (!state.staleSince || iso < state.staleSince) state.staleSince = iso;
  const box = $("squad-stale");
  box.textContent = t("squad.stale", { time: fmtTime(state.staleSince) });
  box.hidden = false;
}

function clearStale() {
  state.staleSince = null;
  $("squad-stale").hidden = true;
}

/** A section that could not load says why, in place (offline without a copy, refused...). */
function failed(box, error) {
  clear(box).append(
    h("p", { class: "error" }, error instanceof TypeError ? t("squad.offline_no_copy") : problemText(error)),
  );
}

// --- who and where ---------------------------------------------------------------------

async function chooseStreet() {
  const user = state.user;
  try {
    for (const street of await read("/api/streets")) state.streets.set(street.code, street);
  } catch (error) {
    if (user.role !== "street_leader") throw error; // a leader's street is known without it
  }
  if (user.role === "street_leader") return user.street;
  if (user.community) {
    state.community = user.community;
    const community = await read(`/api/communities/${user.community}`);
    return community.street;
  }
  const select = $("street-select");
  clear(select);
  for (const street of state.streets.values()) select.append(h("option", { value: street.code }, street.name));
  const saved = localStorage.getItem(STREET_CHOICE);
  const street = state.streets.has(saved) ? saved : select.options[0]?.value;
  select.value = street;
  $("street-pick").hidden = false;
  return street;
}

async function loadPlaces() {
  const street = state.street;
  const [depots, communities, items] = await Promise.all([
    read("/api/depots"),
    read(`/api/communities?street=${street}`),
    read("/api/stock/items"),
  ]);
  state.allDepots = new Map(depots.map((d) => [d.code, d]));
  state.depots = depots.filter((d) => d.street === street);
  state.communities = new Map(communities.map((c) => [c.code, c]));
  state.items = new Map(items.map((i) => [i.code, i]));
  $("squad-street").textContent = state.streets.get(street)?.name || street;
}

// --- the outbox on screen --------------------------------------------------------------

async function refreshOutbox() {
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
}

/** The service's reason, with the field it names and the figures of a shortage. */
function reasonText(problem) {
  if (!problem) return "";
  const parts = [codedText(problem, problem.detail)];
  if (problem.field) parts.push(t("squad.outbox.field", { field: problem.field }));
  if (problem.available != null) parts.push(t("squad.outbox.available", { n: problem.available }));
  return `${t("squad.outbox.reason")}: ${parts.join(" · ")} (${problem.status})`;
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    if (navigator.onLine) clearStale();
    loadStock();
    loadTasks();
  }, 150);
}

window.addEventListener("outbox-changed", (event) => {
  const { sent, refused, recorded } = event.detail || {};
  refreshOutbox();
  if (sent) {
    // keep showing the sent action's effect until the reloaded view includes it
    if (sent.kind === "task" && event.detail.result?.id) {
      state.tasks = state.tasks.map((task) => (task.id === event.detail.result.id ? event.detail.result : task));
    } else if (sent.ref?.depot) {
      state.justSent.push({ ...sent, sentAt: Date.now() });
    }
    toast(t("squad.outbox.sent_one", { label: sent.label }));
    reloadSoon();
  }
  if (refused) {
    const status = refused.problem.status;
    if (refused.kind === "task" && status === 412) {
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
function act(kind, path, body, text, ref = {}) {
  return outbox.record({ kind, path, body, label: text, ref, exercise: currentExercise()?.id ?? null });
}

// --- stock -----------------------------------------------------------------------------

async function loadStock() {
  if (!can("stock.read")) {
    $("tab-stock").hidden = true;
    return;
  }
  try {
    const street = state.street;
    const asked = Date.now();
    const [stock, alerts, summary] = await Promise.all([
      read(`/api/stock/?street=${street}`),
      read(`/api/stock/alerts?street=${street}`),
      read(`/api/stock/summary?street=${street}`),
    ]);
    state.stock = stock;
    state.alerts = alerts;
    state.justSent = state.justSent.filter((e) => e.sentAt >= asked);
    renderStock();
    renderAlerts();
    renderSummary(summary);
    fillRecordForms();
  } catch (error) {
    failed($("stock-depots"), error);
  }
}

/** What the waiting actions will do to a depot's item once sent (issues out, receipts in). */
function pendingDelta(depot, item) {
  let delta = 0;
  for (const e of [...state.pending, ...state.justSent]) {
    if (e.state !== "waiting" || e.ref.depot !== depot) continue;
    for (const line of e.body.lines || []) {
      if (line.item !== item) continue;
      if (e.kind === "issue") delta -= line.qty;
      if (e.kind === "receipt") delta += line.qty;
    }
  }
  return delta;
}

const STATUS_BADGE = { ok: "ok", near_expiry: "warn", expired: "bad" };

function renderStock() {
  const box = $("stock-depots");
  if (!can("stock.read") || !state.depots.length) return;
  clear(box);
  for (const depot of state.depots) {
    const lines = state.stock.filter((l) => l.depot === depot.code);
    const items = [...new Set([...lines.map((l) => l.item), ...state.alerts.filter((a) => a.depot === depot.code && a.kind === "below_standard").map((a) => a.item)])];
    items.sort((a, b) => itemName(a).localeCompare(itemName(b), lang === "zh" ? "zh-CN" : "en"));
    const rows = [];
    for (const item of items) {
      const lots = lines.filter((l) => l.item === item);
      const usable = lots.filter((l) => l.status !== "expired").reduce((sum, l) => sum + l.qty, 0);
      const below = state.alerts.find((a) => a.depot === depot.code && a.item === item && a.kind === "below_standard");
      const delta = pendingDelta(depot.code, item);
      rows.push(
        h(
          "tr",
          { class: "item-row", dataset: { depot: depot.code, item } },
          h("th", { scope: "row" }, itemName(item)),
          h("td", {}, ""),
          h(
            "td",
            { class: "num" },
            h("span", { class: "on-hand", dataset: { qty: usable } }, fmtNumber(usable)),
            " ",
            unitOf(item),
            delta ? h("span", { class: "pending-delta badge warn" }, t("squad.stock.pending_delta", { n: delta > 0 ? `+${delta}` : delta })) : null,
          ),
          h(
            "td",
            {},
            below
              ? h("span", { class: "badge bad below" }, t("squad.stock.below", { min: fmtNumber(below.minimum) }))
              : h("span", { class: "badge ok" }, t("squad.stock.meets")),
          ),
        ),
      );
      for (const lot of lots) {
        const days = state.alerts.find((a) => a.depot === depot.code && a.lot === lot.lot && a.item === item && a.days_left != null)?.days_left;
        rows.push(
          h(
            "tr",
            { class: `lot-row ${lot.status}`, dataset: { depot: depot.code, item, lot: lot.lot } },
            h("td", { class: "lot" }, t("squad.stock.lot", { lot: lot.lot })),
            h("td", {}, lot.expires_on ? fmtDate(lot.expires_on) : t("squad.stock.no_expiry")),
            h("td", { class: "num" }, fmtNumber(lot.qty)),
            h(
              "td",
              {},
              h("span", { class: `badge ${STATUS_BADGE[lot.status]}` }, t(`squad.lot.${lot.status}`)),
              days != null && lot.status === "near_expiry" ? ` ${t("squad.stock.days_left", { n: days })}` : "",
            ),
          ),
        );
      }
    }
    const headers = [t("squad.col.item_lot"), t("squad.col.expires"), t("squad.col.qty"), t("squad.col.marks")];
    const waiting = state.pending.filter((e) => e.state === "waiting" && e.ref.depot === depot.code);
    box.append(
      h(
        "section",
        { class: "panel depot", dataset: { depot: depot.code }, "aria-label": depot.name },
        h("h2", {}, depot.name, " ", h("span", { class: "note" }, depot.code)),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "stock-table" },
            h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: i === 2 ? "num" : null }, x)))),
            h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "note" }, t("squad.stock.empty")))),
          ),
        ),
        waiting.length
          ? h("div", { class: "depot-pending" }, h("h3", {}, t("squad.stock.pending")), h("ul", {}, waiting.map((e) => h("li", {}, e.label))))
          : null,
      ),
    );
  }
}

function renderAlerts() {
  const box = clear($("stock-alerts"));
  const counts = { below_standard: 0, near_expiry: 0, expired: 0 };
  for (const alert of state.alerts) counts[alert.kind] += 1;
  box.append(
    h(
      "p",
      { class: "alert-counts" },
      h("span", { class: `badge ${counts.below_standard ? "bad" : "ok"}` }, t("squad.alerts.below", { n: counts.below_standard })),
      " ",
      h("span", { class: `badge ${counts.near_expiry ? "warn" : "ok"}` }, t("squad.alerts.near", { n: counts.near_expiry })),
      " ",
      h("span", { class: `badge ${counts.expired ? "bad" : "ok"}` }, t("squad.alerts.expired", { n: counts.expired })),
    ),
  );
}

function renderSummary(summary) {
  const rows = summary
    .filter((r) => r.street === state.street)
    .map((r) => [
      itemName(r.item),
      fmtNumber(r.on_hand),
      fmtNumber(r.standard),
      r.gap > 0 ? h("span", { class: "badge bad" }, fmtNumber(r.gap)) : "0",
      r.percent == null ? "" : `${Math.round(r.percent)}%`,
    ]);
  clear($("stock-summary")).append(
    table([t("squad.col.item"), t("squad.col.on_hand"), t("squad.col.standard"), t("squad.col.gap"), t("squad.col.percent")], rows, { numeric: [1, 2, 3, 4] }),
  );
}

// --- recording receipts, issues and counts ----------------------------------------------

function options(select, choices, { blank } = {}) {
  const keep = select.value;
  clear(select);
  if (blank) select.append(h("option", { value: "" }, blank));
  for (const [value, text] of choices) select.append(h("option", { value }, text));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function fillRecordForms() {
  const writer = can("stock.issue") || can("stock.receive") || can("stock.count");
  $("tab-record").hidden = !writer;
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

function fillIssueLots() {
  const depot = $("issue-depot").value;
  const item = $("issue-item").value;
  const lots = state.stock.filter((l) => l.depot === depot && l.item === item && l.status !== "expired" && l.qty > 0);
  options(
    $("issue-lot"),
    lots.map((l) => [l.lot, `${l.lot} · ${fmtNumber(l.qty)} · ${l.expires_on ? fmtDate(l.expires_on) : t("squad.stock.no_expiry")}`]),
    { blank: t("squad.field.lot_auto") },
  );
}

function fillReceiptLots() {
  const item = $("receipt-item").value;
  const known = [...new Set(state.stock.filter((l) => l.item === item).map((l) => l.lot))];
  clear($("receipt-lots")).append(...known.map((lot) => h("option", { value: lot })));
  const shelf = state.items.get(item)?.shelf_life_days;
  $("receipt-expires").required = Boolean(shelf);
}

function fillCountSheet() {
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

function formError(form, message) {
  const box = form.querySelector(".error");
  box.textContent = message || "";
  box.hidden = !message;
}

function wholeNumber(input, min = 1) {
  const value = Number(input.value);
  return Number.isInteger(value) && value >= min && input.value !== "" ? value : null;
}

function onIssue(event) {
  event.preventDefault();
  const form = event.target;
  const qty = wholeNumber(form.qty);
  const incident = form.incident.value ? Number(form.incident.value) : null;
  const purpose = form.purpose.value.trim();
  if (!form.depot.value || !form.community.value || !form.item.value) return formError(form, t("squad.form.choose"));
  if (!qty) return formError(form, t("squad.form.bad_qty", { field: t("squad.field.qty") }));
  if (!incident && !purpose) return formError(form, t("squad.form.need_purpose"));
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

function onReceipt(event) {
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

function onCount(event) {
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

// --- tasks -----------------------------------------------------------------------------

async function loadTasks() {
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
    renderTasks();
  } catch (error) {
    failed($("task-list"), error);
  }
}

const AFTER = { assign: "assigned", accept: "accepted", start: "en_route", complete: "done", fail: "failed" };

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
 * (tasks re-render whenever the outbox sends or the live feed reports a change). */
function preserving(container, draw) {
  const saved = new Map();
  for (const el of container.querySelectorAll("input[id], select[id], textarea[id]")) {
    saved.set(el.id, el.type === "checkbox" ? el.checked : el.value);
  }
  const open = [...container.querySelectorAll("details[open][id]")].map((d) => d.id);
  const errors = [...container.querySelectorAll(".error[id]:not([hidden])")].map((e) => [e.id, e.textContent]);
  const focused = container.contains(document.activeElement) ? document.activeElement.id : null;
  draw();
  for (const [id, value] of saved) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (el.type === "checkbox") el.checked = value;
    else el.value = value;
  }
  for (const id of open) document.getElementById(id)?.setAttribute("open", "");
  for (const [id, text] of errors) {
    const el = document.getElementById(id);
    if (el) Object.assign(el, { textContent: text, hidden: false });
  }
  if (focused) document.getElementById(focused)?.focus();
}

function renderTasks() {
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
  const load = task.kind === "delivery" ? cargo(task) : null;
  const id = `task-${task.id}`;
  const facts = [
    load ? t("squad.task.cargo", { qty: load.qty, unit: unitOf(load.item), item: itemName(load.item), depot: depotName(load.depot) }) : task.note,
    t("squad.task.people", { n: task.people_needed, assigned: task.assignees.length }),
    task.households.length ? t("squad.task.households", { n: task.households.length }) : null,
    task.delivered_qty != null ? t("squad.task.delivered_qty", { n: task.delivered_qty }) : null,
    task.failed_reason ? t("squad.task.failed_reason", { reason: task.failed_reason }) : null,
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
    ACTIVE.includes(task.status) ? taskActions(task, load) : null,
  );
}

function step(task, name, body, text) {
  const all = { version: task.version, ...body };
  act("task", `/api/tasks/${task.id}/${name}`, all, `#${task.id} ${text}`, { task: task.id, step: name });
}

function taskActions(task, load) {
  const box = h("div", { class: "task-actions" });
  const work = can("tasks.work");
  if (task.status === "open" && can("tasks.assign")) box.append(assignForm(task));
  if (task.status === "assigned" && work) {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => step(task, "accept", {}, t("squad.task.accept")) }, t("squad.task.accept")));
  }
  if (task.status === "accepted" && work && task.kind === "delivery") {
    box.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => step(task, "start", {}, t("squad.task.start")) }, t("squad.task.start")));
  }
  const canFinish = task.kind === "delivery" ? task.status === "en_route" : ["accepted", "en_route"].includes(task.status);
  if (work) box.append(...[shareButton(task)].filter(Boolean));
  if (canFinish && work) box.append(completeForm(task, load));
  if (work) box.append(failForm(task));
  return box;
}

// --- where the vehicle is: GPS fixes while a delivery is on its way ------------------------
// Only when the person holding the tablet says they are on the vehicle (a tablet left at
// the depot must not report the depot). Not through the outbox: a fix that could not be
// sent is stale by the next one, so nothing is kept to resend.

const SHARE_EVERY_MS = 30_000;
const sharing = new Map(); // task id -> { watch, last }

/** On its way as the service knows it (not only as the outbox will make it). */
function onItsWay(id) {
  const known = state.tasks.find((x) => x.id === id);
  return known?.kind === "delivery" && known.status === "en_route";
}

function shareButton(task) {
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

function stopSharing(id) {
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

function completeForm(task, load) {
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

function failForm(task) {
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

function assignForm(task) {
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

// --- people on duty and pairings ---------------------------------------------------------

async function loadPeople() {
  try {
    const query = `street=${state.street}`;
    const duty = await read(`/api/duty/on-duty?${query}`);
    const rows = duty
      .filter((c) => !state.community || c.community === state.community)
      .map((c) => [
        c.name,
        fmtNumber(c.on_duty),
        Object.entries(c.skills).map(([k, n]) => `${label("squad.skill", k)} ${n}`).join(SEP),
        can("people.read") && c.on_duty
          ? h("button", { type: "button", class: "btn btn-small", "aria-label": t("squad.duty.show_in", { name: c.name }), onclick: () => showOnDuty(c.community, { reveal: true }) }, t("squad.duty.show"))
          : "",
      ]);
    clear($("duty-communities")).append(table([t("squad.col.community"), t("squad.col.on_duty"), t("squad.col.skills"), ""], rows, { numeric: [1] }));
  } catch (error) {
    failed($("duty-communities"), error);
  }
  if (state.dutyCommunity) showOnDuty(state.dutyCommunity);
  if (!can("pairings.read")) return;
  try {
    // a community's own roles may read its pairings only, not its street's
    const scope = state.community ? `community=${state.community}` : `street=${state.street}`;
    const pairings = await read(`/api/pairings?${scope}`);
    const rows = pairings
      .filter((p) => !state.community || p.community === state.community)
      .map((p) => [
        p.unit_name,
        label("squad.unit", p.unit_kind),
        p.community_name,
        fmtNumber(p.pledged_people),
        fmtDate(p.valid_until),
        h("span", { class: `badge ${p.counts ? "ok" : "bad"}` }, label("squad.pairing", p.effective_status)),
      ]);
    clear($("pairings")).append(
      table([t("squad.col.unit"), t("squad.col.unit_kind"), t("squad.col.community"), t("squad.col.pledged"), t("squad.col.valid_until"), t("squad.col.status")], rows, { numeric: [3] }),
    );
  } catch (error) {
    failed($("pairings"), error);
  }
}

async function showOnDuty(community, { reveal = false } = {}) {
  state.dutyCommunity = community;
  $("duty-people-title").textContent = t("squad.duty.people_in", { name: communityName(community) });
  const box = $("duty-people");
  try {
    const [people, records] = await Promise.all([
      read(`/api/duty/on-duty/${community}/people`),
      read(`/api/people?community=${community}&on_duty=true&limit=200`),
    ]);
    const phones = new Map(records.map((p) => [p.id, p.phone]));
    const rows = people.map((p) => [
      p.name,
      label("squad.person", p.kind),
      p.skills.map((k) => label("squad.skill", k)).join(SEP),
      t("squad.duty.hours", { n: p.hours_today.toFixed(1) }),
      h("span", { class: "phone" }, phones.get(p.person_id) || t("squad.duty.no_phone")),
      can("people.reveal") && phones.get(p.person_id) ? callButton(p) : "",
    ]);
    clear(box).append(
      table([t("squad.col.name"), t("squad.col.kind"), t("squad.col.skills"), t("squad.col.hours"), t("squad.col.phone"), ""], rows),
    );
    if (reveal) $("duty-people-title").scrollIntoView({ block: "start" }); // below the list on a tablet
  } catch (error) {
    failed(box, error);
  }
}

/** Tap to call: the whole number is asked for (and audited) only when the call is wanted,
 * and only then becomes a tel: link; it is never written on screen. */
function callButton(person) {
  const button = h("button", { type: "button", class: "btn btn-small call", "aria-label": t("squad.duty.call_label", { name: person.name }) }, t("squad.duty.call"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const revealed = await api(`/api/people/${person.person_id}/reveal`, { method: "POST" });
      const link = h("a", { class: "btn btn-primary btn-small tel", href: `tel:${revealed.phone}`, "aria-label": t("squad.duty.call_now_label", { name: person.name }) }, t("squad.duty.call_now"));
      button.replaceWith(link);
      link.focus();
    } catch (error) {
      button.disabled = false;
      toast(error instanceof TypeError ? t("squad.duty.call_offline") : problemText(error), { bad: true });
    }
  });
  return button;
}

// --- tabs, live updates, start-up -------------------------------------------------------

function showTab(name) {
  for (const tab of document.querySelectorAll(".squad-tabs [role=tab]")) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#${name}`);
}

function wire() {
  for (const tab of document.querySelectorAll(".squad-tabs [role=tab]")) {
    tab.addEventListener("click", () => showTab(tab.id.slice(4)));
  }
  $("outbox-send").addEventListener("click", () => outbox.flush());
  $("stock-reload").addEventListener("click", () => loadStock());
  $("tasks-reload").addEventListener("click", () => loadTasks());
  $("people-reload").addEventListener("click", () => loadPeople());
  $("issue-form").addEventListener("submit", onIssue);
  $("receipt-form").addEventListener("submit", onReceipt);
  $("count-form").addEventListener("submit", onCount);
  $("issue-depot").addEventListener("change", fillIssueLots);
  $("issue-item").addEventListener("change", fillIssueLots);
  $("receipt-item").addEventListener("change", fillReceiptLots);
  $("count-depot").addEventListener("change", fillCountSheet);
  $("street-select").addEventListener("change", async (event) => {
    localStorage.setItem(STREET_CHOICE, event.target.value);
    state.street = event.target.value;
    state.dutyCommunity = null;
    await loadAll();
  });
  window.addEventListener("online", () => {
    clearStale();
    reloadSoon();
    loadPeople();
  });
  window.addEventListener("exercise-changed", () => loadAll());
}

async function loadAll() {
  if (navigator.onLine) clearStale();
  try {
    await loadPlaces();
  } catch (error) {
    failed($("stock-depots"), error); // tasks and people may still have a copy
  }
  await Promise.all([loadStock(), loadTasks(), loadPeople()]);
  fillRecordForms();
}

function listen() {
  const kinds = /^(stock\.|task\.|duty\.|plan\.approved)/;
  subscribe((event) => {
    if (!kinds.test(event.kind)) return;
    if (event.street && event.street !== state.street) return;
    if (event.kind.startsWith("duty.")) loadPeople();
    else reloadSoon();
  }, { onReset: () => loadAll() });
}

const LAST_USER = "dispatch.squad.last_user";

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (error) {
    console.warn("service worker not registered", error);
    return;
  }
  // someone else used this tablet last: drop what their account was shown
  const me = String(state.user.id);
  if (localStorage.getItem(LAST_USER) !== me) {
    const worker = (await navigator.serviceWorker.ready).active;
    worker?.postMessage({ type: "forget-api", keep: me });
    localStorage.setItem(LAST_USER, me);
  }
}

async function main() {
  state.user = await me();
  outbox.setOwner(state.user.id);
  wire();
  registerWorker();
  const wanted = location.hash.slice(1);
  if (["stock", "record", "tasks", "people"].includes(wanted)) showTab(wanted);
  await refreshOutbox();
  try {
    state.street = await chooseStreet();
  } catch (error) {
    failed($("stock-depots"), error);
    return;
  }
  await loadAll();
  if (!can("stock.read") && !wanted) showTab("tasks");
  outbox.start();
  if (navigator.onLine) listen();
  else window.addEventListener("online", listen, { once: true });
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  if (!(error instanceof ApiError && error.status === 401)) toast(problemText(error), { bad: true });
});

