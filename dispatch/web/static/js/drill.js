// The drill view: list, create, reset and delete exercises; choose the one this browser
// works in (every page then sends X-Exercise and turns orange); play a scenario into it
// live and watch its events; record a drill receipt to see that only the sandbox changes.
import { api, currentExercise, me, setExercise } from "/static/js/api.js";
import { clear, clearRefusal, h, problemText, showRefusal, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, fmtTime, lang, localText, t } from "/static/js/i18n.js";
import { startBatches } from "/static/js/drill_batches.js";
import { subscribe } from "/static/js/live.js";
import { vocabulary } from "/static/js/vocabulary.js";

// who manages exercises and who may record the drill receipt: the service's permissions
// (GET /api/vocabulary), set at start
let MANAGERS = new Set();
let STOCK_ROLES = new Set();
const MAX_EVENTS = 200;
const $ = (id) => document.getElementById(id);

const state = {
  user: null,
  exercises: [],
  scenarios: [],
  streets: new Map(),
  communities: new Map(),
  depots: [],
  items: new Map(),
  stopLive: null,
  pollTimer: null,
};

const manages = () => MANAGERS.has(state.user?.role);
const REAL = { exercise: false }; // managing exercises is done in the real world

/** Show a refusal under its form and mark the input the service named. */
const fail = showRefusal;
const ok = clearRefusal;

// --- exercises ---------------------------------------------------------------------------

let listing = 0;

async function loadExercises() {
  const box = $("exercises");
  const mine = ++listing; // a slow answer to an older filter never overwrites a newer one
  let exercises;
  try {
    const query = $("show-deleted").checked ? "" : "?status=active";
    exercises = await api(`/api/exercises${query}`, REAL);
  } catch (error) {
    if (mine === listing) clear(box).append(h("p", { class: "error" }, problemText(error)));
    return;
  }
  if (mine !== listing) return;
  state.exercises = exercises;
  const drill = currentExercise();
  if (drill && !$("show-deleted").checked && !state.exercises.some((e) => e.id === drill.id)) {
    setExercise(null); // the drill this browser was in is gone
    toast(t("drill.left"));
  }
  renderExercises();
}

function exerciseActions(exercise) {
  if (exercise.status !== "active") return [];
  const current = currentExercise()?.id === exercise.id;
  const label = (key) => `${t(key)} #${exercise.id}`;
  return h(
    "span",
    { class: "row-actions" },
    current
      ? h("span", { class: "badge warn" }, t("drill.chosen"))
      : h("button", { type: "button", class: "btn btn-primary", "aria-label": label("drill.choose"), onclick: () => choose(exercise) }, t("drill.choose")),
    h("button", { type: "button", class: "btn", "aria-label": label("drill.reset"), onclick: () => reset(exercise) }, t("drill.reset")),
    h("button", { type: "button", class: "btn btn-danger", "aria-label": label("drill.delete"), onclick: () => remove(exercise) }, t("drill.delete")),
  );
}

function renderExercises() {
  const rows = state.exercises.map((e) => [
    `#${e.id}`,
    e.name,
    t(`drill.kind.${e.kind}`),
    h("span", { class: `badge ${e.status === "active" ? "ok" : ""}` }, t(`drill.state.${e.status}`)),
    fmtTime(e.created_at),
    e.created_by,
    fmtTime(e.reset_at),
    exerciseActions(e),
  ]);
  const headers = ["id", "name", "kind", "status", "created", "by", "reset", "actions"].map((c) => t(`drill.col.${c}`));
  clear($("exercises")).append(table(headers, rows));
}

function choose(exercise) {
  setExercise({ id: exercise.id, name: exercise.name });
  toast(t("drill.joined", { id: exercise.id }));
}

async function reset(exercise) {
  if (!window.confirm(t("drill.confirm_reset", { id: exercise.id }))) return;
  try {
    await api(`/api/exercises/${exercise.id}/reset`, { ...REAL, method: "POST" });
    toast(t("drill.was_reset", { id: exercise.id }));
    if (currentExercise()?.id === exercise.id) clearEvents();
  } catch (error) {
    // a live play owns the world: say so in the user's language, not the service's
    const playing = error?.status === 409 && /is playing/.test(error.message);
    toast(playing ? t("drill.reset_playing", { id: exercise.id }) : problemText(error), { bad: true });
  }
  await loadExercises();
}

async function remove(exercise) {
  if (!window.confirm(t("drill.confirm_delete", { id: exercise.id }))) return;
  try {
    await api(`/api/exercises/${exercise.id}`, { ...REAL, method: "DELETE" });
    toast(t("drill.was_deleted", { id: exercise.id }));
    if (currentExercise()?.id === exercise.id) setExercise(null);
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
  await loadExercises();
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("create-error");
  const body = { name: form.elements.name.value.trim(), kind: form.elements.kind.value };
  if (!body.name) {
    fail(form, box, { field: "name", message: t("drill.required", { field: t("drill.name") }) });
    return;
  }
  try {
    const created = await api("/api/exercises", { ...REAL, method: "POST", body });
    ok(form, box);
    form.reset();
    toast(t("drill.created", { id: created.id }));
    await loadExercises();
  } catch (error) {
    fail(form, box, error);
  }
});

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("join-error");
  const id = Number(form.elements.id.value.trim());
  if (!Number.isInteger(id) || id < 1) {
    fail(form, box, { field: "id", message: t("drill.required", { field: t("drill.join_id") }) });
    return;
  }
  try {
    // any request naming the exercise proves it is active and open to this user
    await api("/api/auth/me", { exercise: { id } });
    let name = "";
    if (manages()) name = (await api(`/api/exercises/${id}`, REAL)).name;
    ok(form, box);
    form.reset();
    setExercise({ id, name });
    toast(t("drill.joined", { id }));
  } catch (error) {
    const unknown = error.status === 404 && error.field === "X-Exercise";
    fail(form, box, unknown ? { field: "id", message: t("drill.no_such", { id }) } : error);
  }
});

$("show-deleted").addEventListener("change", loadExercises);
$("leave").addEventListener("click", () => {
  setExercise(null);
  toast(t("drill.left"));
});

// --- the current drill ---------------------------------------------------------------------

function renderCurrent() {
  const drill = currentExercise();
  $("current-text").textContent = drill
    ? t("drill.current_is", { id: drill.id, name: drill.name || "" })
    : t("drill.current_none");
  $("current-links").hidden = !drill;
  $("in-drill").hidden = !drill;
  $("live-panel").hidden = !drill;
  $("play-panel").hidden = !drill || !manages();
}

function onExerciseChanged() {
  renderCurrent();
  if (manages()) renderExercises();
  state.stopLive?.(); // the old feed stops before live.js would reopen it
  state.stopLive = null;
  clearEvents();
  clearTimeout(state.pollTimer);
  clear($("progress"));
  clear($("drill-stock"));
  const drill = currentExercise();
  if (!drill) return;
  state.stopLive = subscribe(onEvent, {
    onReset: () => {
      clearEvents();
      toast(t("drill.live_reset"));
    },
    onStatus: (status) => {
      const badge = $("live-status");
      badge.textContent = t(status === "open" ? "drill.live_open" : "drill.live_error");
      badge.className = `badge ${status === "open" ? "ok" : "warn"}`;
    },
  });
  if (manages()) pollProgress();
}

// --- playing a scenario ----------------------------------------------------------------------

async function loadScenarios() {
  const select = $("play-scenario");
  try {
    state.scenarios = await api("/api/scenarios", REAL);
  } catch (error) {
    $("scenario-info").textContent = problemText(error);
    return;
  }
  clear(select);
  if (!state.scenarios.length) {
    select.append(h("option", { value: "" }, t("drill.scenario_none")));
    $("play-submit").disabled = true;
  }
  for (const s of state.scenarios) select.append(h("option", { value: s.name }, localText(s.title)));
  showScenario();
}

function showScenario() {
  const chosen = state.scenarios.find((s) => s.name === $("play-scenario").value);
  $("scenario-info").textContent = chosen
    ? `${chosen.name} · ${t("drill.scenario_info", { duration: chosen.duration, events: chosen.events, start: fmtTime(chosen.start) })}`
    : "";
  if (chosen) $("scenario-info").title = localText(chosen.description);
}

$("play-scenario").addEventListener("change", showScenario);

$("play-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("play-error");
  const drill = currentExercise();
  if (!drill) {
    fail(form, box, { message: t("drill.need_drill") });
    return;
  }
  const body = {
    scenario: form.elements.scenario.value,
    speed: Number(form.elements.speed.value),
    loop: form.elements.loop.checked,
  };
  if (form.elements.policy.value) body.policy = form.elements.policy.value;
  try {
    const view = await api(`/api/exercises/${drill.id}/play`, { ...REAL, method: "POST", body });
    ok(form, box);
    toast(t("drill.play_started"));
    clearEvents();
    renderProgress(view);
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(pollProgress, 1000);
  } catch (error) {
    fail(form, box, error);
  }
});

async function stopPlay() {
  const drill = currentExercise();
  if (!drill) return;
  try {
    const view = await api(`/api/exercises/${drill.id}/play`, { ...REAL, method: "DELETE" });
    clearTimeout(state.pollTimer);
    renderProgress(view);
    toast(t("drill.play_stopped"));
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

async function pollProgress() {
  const drill = currentExercise();
  clearTimeout(state.pollTimer);
  if (!drill || !manages()) return;
  let view;
  try {
    view = await api(`/api/exercises/${drill.id}/play`, REAL);
  } catch (error) {
    clear($("progress")).append(h("p", { class: "error" }, problemText(error)));
    return;
  }
  if (currentExercise()?.id !== drill.id) return;
  renderProgress(view);
  if (view.status === "running") state.pollTimer = setTimeout(pollProgress, 2000);
}

function figure(label, value) {
  return [h("dt", {}, label), h("dd", {}, value == null || value === "" ? "–" : value)];
}

function percent(value) {
  return value == null ? null : `${fmtNumber(Math.round(value * 1000) / 10)}%`;
}

function renderProgress(view) {
  const box = clear($("progress"));
  const badge = { running: "warn", finished: "ok", failed: "bad" }[view.status] || "";
  box.append(h("p", {}, h("span", { class: `badge ${badge}`, id: "play-status" }, t(`drill.status.${view.status}`)), " ", localText(view.title || "")));
  if (view.status === "idle") return;
  if (view.status === "running") {
    box.append(h("button", { type: "button", class: "btn btn-danger", id: "play-stop", onclick: stopPlay }, t("drill.play_stop")));
  }
  box.append(
    h("label", { for: "play-progress", class: "progress-label" }, `${t("drill.progress")} ${percent(view.progress)}`),
    h("progress", { id: "play-progress", max: "1", value: String(view.progress) }),
    h(
      "dl",
      { class: "figures" },
      figure(t("drill.sim_time"), fmtTime(view.sim_time)),
      figure("", t("drill.offset", { done: fmtNumber(Math.round(view.offset_minutes)), total: fmtNumber(Math.round(view.duration_minutes)) })),
      figure(t("drill.events_done"), `${view.events_done} / ${view.events_total}`),
      figure(t("drill.deliveries"), view.deliveries),
      figure(t("drill.plans"), view.plans),
      view.loop ? figure(t("drill.loops"), view.loops) : null,
    ),
  );
  if (view.error) box.append(h("p", { class: "error", role: "alert" }, view.error));
  if (view.report) box.append(renderReport(view.report));
}

function renderReport(report) {
  const p90 = report.delivery_minutes?.p90;
  const expect = (report.expect || []).map((b) => [
    // figure names are dotted (delivery_minutes.p90): shown with a middle dot
    String(b.bound).replace(/([A-Za-z_])\.([A-Za-z_])/g, "$1·$2"),
    b.actual == null ? "–" : fmtNumber(b.actual),
    h("span", { class: `badge ${b.ok ? "ok" : "bad"}` }, t(b.ok ? "drill.expect_ok" : "drill.expect_bad")),
  ]);
  return h(
    "div",
    { class: "report" },
    h("h3", {}, t("drill.report")),
    h(
      "dl",
      { class: "figures" },
      figure(t("drill.fig.requests"), report.requests),
      figure(t("drill.fig.units"), `${fmtNumber(report.delivered_units)} / ${fmtNumber(report.requested_units)}`),
      figure(t("drill.fig.fill_rate"), percent(report.fill_rate)),
      figure(t("drill.fig.first_delivery"), report.first_delivery_minutes == null ? null : fmtNumber(report.first_delivery_minutes)),
      figure(t("drill.fig.p90"), p90 == null ? null : fmtNumber(p90)),
      figure(t("drill.fig.staffed"), report.tasks == null ? null : `${report.tasks_staffed} / ${report.tasks}`),
    ),
    expect.length ? table([t("drill.fig.expect"), "", ""], expect) : null,
  );
}

// --- live events of the drill -----------------------------------------------------------------

function clearEvents() {
  clear($("events")).append(
    table([t("drill.col.at"), t("drill.col.event"), t("drill.col.where"), t("drill.col.detail")], []),
  );
  $("events").querySelector("tbody").id = "events-body";
}

function eventLabel(kind) {
  const key = `drill.ev.${kind}`;
  const label = t(key);
  return label === key ? `${t("drill.ev.other")} (${String(kind).replace(/\./g, " · ")})` : label;
}

function where(event) {
  if (event.community) return state.communities.get(event.community) || event.community;
  if (event.street) return state.streets.get(event.street) || event.street;
  return "";
}

function detail(data) {
  const parts = [];
  for (const [key, value] of Object.entries(data || {})) {
    if (value == null || key === "route" || key === "coordinates") continue;
    if (Array.isArray(value)) parts.push(`${key}: ${value.length > 4 ? value.length : value.join(", ")}`);
    else if (typeof value === "object") continue;
    else parts.push(`${key}: ${value}`);
  }
  return parts.join(" · ");
}

function onEvent(event) {
  const body = $("events-body");
  if (!body) return;
  if (body.querySelector("td[colspan]")) clear(body); // the "none" row
  body.prepend(
    h(
      "tr",
      { class: "event", dataset: { kind: event.kind } },
      h("td", {}, fmtTime(event.at)),
      h("td", {}, eventLabel(event.kind)),
      h("td", {}, where(event)),
      h("td", { class: "detail" }, detail(event.data)),
    ),
  );
  while (body.rows.length > MAX_EVENTS) body.lastElementChild.remove();
  if (manages() && /^(request|task|plan|incident)\./.test(event.kind)) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(pollProgress, 500);
  }
}

// --- a drill action: a receipt inside the sandbox ----------------------------------------------

function nextYear() {
  const day = new Date(Date.now() + 365 * 86400 * 1000);
  return day.toISOString().slice(0, 10);
}

async function loadActionChoices() {
  if (!STOCK_ROLES.has(state.user.role)) {
    $("receive-form").hidden = true;
    $("action-role").hidden = false;
    return;
  }
  try {
    const [depots, items] = await Promise.all([api("/api/depots", REAL), api("/api/stock/items", REAL)]);
    state.depots = depots.filter((d) => state.user.role !== "street_leader" || d.street === state.user.street);
    for (const item of items) state.items.set(item.code, item);
  } catch (error) {
    $("receive-error").textContent = problemText(error);
    $("receive-error").hidden = false;
    return;
  }
  const depotSelect = clear($("rc-depot"));
  for (const d of state.depots) depotSelect.append(h("option", { value: d.code }, d.name));
  const itemSelect = clear($("rc-item"));
  for (const item of state.items.values()) {
    itemSelect.append(h("option", { value: item.code }, lang === "zh" ? item.name_zh : item.name_en));
  }
  $("rc-lot").value = `DRILL-${new Date().toISOString().slice(0, 10).replace(/-/g, "")}`;
  $("rc-expires").value = nextYear();
}

async function showDrillStock(depot, item) {
  const drill = currentExercise();
  if (!drill) return;
  const rows = await api(`/api/stock/?depot=${encodeURIComponent(depot)}&item=${encodeURIComponent(item)}`, { exercise: drill });
  const statusBadge = { ok: "ok", near_expiry: "warn", expired: "bad" };
  clear($("drill-stock")).append(
    table(
      [t("drill.col.lot"), t("drill.col.expires"), t("drill.col.qty"), t("drill.col.state")],
      rows.map((r) => [r.lot, fmtDate(r.expires_on), fmtNumber(r.qty), h("span", { class: `badge ${statusBadge[r.status] || ""}` }, t(`drill.stock.${r.status}`))]),
      { numeric: [2] },
    ),
  );
}

$("receive-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("receive-error");
  const drill = currentExercise();
  if (!drill) {
    fail(form, box, { message: t("drill.need_drill") });
    return;
  }
  const line = {
    item: form.elements.namedItem("item").value,
    lot: form.elements.lot.value.trim(),
    qty: Number(form.elements.qty.value),
  };
  if (form.elements.expires_on.value) line.expires_on = form.elements.expires_on.value;
  if (!line.lot) return fail(form, box, { field: "lot", message: t("drill.required", { field: t("drill.lot") }) });
  if (!Number.isInteger(line.qty) || line.qty < 1) return fail(form, box, { field: "qty", message: t("drill.required", { field: t("drill.qty") }) });
  const depot = form.elements.depot.value;
  try {
    // the drill is named explicitly: this action must never reach the real ledger
    await api("/api/stock/receipts", { method: "POST", exercise: drill, body: { depot, lines: [line] } });
    ok(form, box);
    toast(t("drill.received", { qty: fmtNumber(line.qty) }));
    await showDrillStock(depot, line.item);
  } catch (error) {
    const field = error.field?.replace(/^lines\[\d+\]\./, "");
    fail(form, box, field ? Object.assign(error, { field }) : error);
  }
});

// --- start -----------------------------------------------------------------------------------

async function loadPlaces() {
  try {
    const [streets, communities] = await Promise.all([api("/api/streets", REAL), api("/api/communities", REAL)]);
    for (const s of streets) state.streets.set(s.code, s.name);
    for (const c of communities) state.communities.set(c.code, c.name);
  } catch {
    /* names are a nicety: codes are shown instead */
  }
}

/** The stored drill may have been deleted elsewhere: then this browser leaves it. */
async function checkStoredDrill() {
  const drill = currentExercise();
  if (!drill) return;
  try {
    await api("/api/auth/me", { exercise: drill });
  } catch (error) {
    if (error.status === 404 && error.field === "X-Exercise") {
      setExercise(null);
      toast(t("drill.left"));
    }
  }
}

async function start() {
  state.user = await me();
  const { permissions } = await vocabulary();
  MANAGERS = new Set(permissions["exercises.manage"]);
  STOCK_ROLES = new Set(permissions["stock.receive"]);
  await checkStoredDrill();
  $("need-role").hidden = manages();
  $("exercises-panel").hidden = !manages();
  $("create-panel").hidden = !manages();
  window.addEventListener("exercise-changed", onExerciseChanged);
  renderCurrent();
  const loads = [loadPlaces(), loadActionChoices()];
  if (manages()) loads.push(loadExercises(), loadScenarios().then(() => startBatches(state.scenarios)));
  await Promise.all(loads);
  onExerciseChanged();
  $("main").dataset.ready = "true"; // drawn once with everything loaded (tests wait for it)
}

start();
