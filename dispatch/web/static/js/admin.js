// A commander's administration: users, reserve standards, partner units and pairings,
// the fleet (admin_fleet.js), community emergency plans (admin/plans.js), service hours per
// street with their chart (admin_service.js), community coordinates (approximate ones marked),
// spreadsheet import and export.
// Each tab loads its data when first shown; every refusal is shown with the field it names.
import { initFleet, wireFleet } from "/static/js/admin_fleet.js";
import { initPlans, wirePlans } from "/static/js/admin/plans.js";
import { initService, wireService } from "/static/js/admin_service.js";
import { download as saveDownload } from "/static/js/download.js";
import { api, currentExercise, me } from "/static/js/api.js";
import { vocabulary } from "/static/js/vocabulary.js";
import { clear, clearRefusal, h, problemText, showRefusal, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, fmtTime, lang, t } from "/static/js/i18n.js";
import { createMap, describe } from "/static/js/map.js";

const $ = (id) => document.getElementById(id);
const ALL_TABS = ["users", "standards", "units", "fleet", "plans", "service", "coordinates", "imports", "exports"];
// the tabs open to roles other than a commander's, by the permission each needs: a street
// leader reviews, revises and approves their street's plans and reads its service records
// (the API scopes every row; the page only leaves out what the role could never use)
const TAB_NEEDS = { plans: "preparedness.read", service: "branches.read" };
let TABS = ALL_TABS;
const REAL = { exercise: false }; // accounts are shared by every world: never in a drill
// each import's columns, and the Chinese headers a sheet may carry instead
const COLUMNS = {
  people: ["code, name, kind, phone, address, community, street, party_branch, unit_code, skills, availability", "人员编号, 姓名, 人员类别, 手机号, 住址, 所在社区, 街道, 所在党支部, 共建单位编号, 技能, 服务时间"],
  "partner-units": ["code, name, kind, contact_name, contact_phone", "单位编号, 单位名称, 单位类别, 联系人, 联系电话"],
  pairings: ["unit_code, community, signed_on, valid_from, valid_until, pledged_people, pledged_skills, status, note", "单位编号, 社区, 签约日期, 生效日期, 有效期至, 承诺人数, 承诺技能, 状态, 备注"],
  receipts: ["depot, item, lot, expires_on, qty", "储备点, 物资编码, 批号, 有效期, 数量"],
  vehicles: ["code, depot, kind, lane_class, name, payload_kg, volume_m3, crew_needed, status, shift_start, shift_end, note", "编号, 储备点, 车型, 通行类别, 车牌, 载重, 容积, 所需人数, 状态, 班次开始, 班次结束, 备注"],
};
const MULTIPART = new Set(["receipts", "vehicles"]); // all or none, without a check-only run

const state = {
  loaded: new Set(),
  streets: [],
  streetNames: new Map(),
  communities: [],
  communityNames: new Map(),
  depots: [],
  items: new Map(),
  skills: [],
  units: [],
  editing: null,
  me: null,
  users: [],
  createdId: null,
  coordMap: null,
  pick: null,
};

// --- helpers ----------------------------------------------------------------------------

/** Show a refusal under its form and mark the input the service named. */
const fail = showRefusal;
const ok = clearRefusal;

function required(form, box, name, labelKey) {
  const value = form.elements.namedItem(name).value.trim();
  if (!value) fail(form, box, { field: name, message: t("admin.required", { field: t(labelKey) }) });
  return value;
}

function options(select, entries, { blank } = {}) {
  clear(select);
  if (blank) select.append(h("option", { value: "" }, blank));
  for (const [value, label] of entries) select.append(h("option", { value }, label));
}

const itemName = (code) => {
  const item = state.items.get(code);
  return item ? `${lang === "zh" ? item.name_zh : item.name_en}` : code;
};
const itemLabel = (code) => (state.items.has(code) ? itemName(code) : code);

const generations = new Map();

/** A token for one load of a view; `current(token)` is false once a newer load started, so
 * a slow answer to an old filter never overwrites the answer to the new one. */
function begin(view) {
  const token = (generations.get(view) || 0) + 1;
  generations.set(view, token);
  return { current: () => generations.get(view) === token };
}

function loadingInto(box) {
  clear(box).append(h("p", { class: "note" }, t("common.loading")));
}

function errorInto(box, error) {
  clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
}

async function reference() {
  if (state.streets.length) return;
  const [streets, communities, depots, items] = await Promise.all([
    api("/api/streets"),
    api("/api/communities"),
    api("/api/depots"),
    api("/api/stock/items"),
  ]);
  state.streets = streets;
  state.communities = communities;
  state.depots = depots;
  for (const s of streets) state.streetNames.set(s.code, s.name);
  for (const c of communities) state.communityNames.set(c.code, c.name);
  for (const i of items) state.items.set(i.code, i);
}

const streetOptions = () => state.streets.map((s) => [s.code, s.name]);
const communityOptions = (street) =>
  state.communities
    .filter((c) => !street || c.street === street)
    .map((c) => [c.code, `${c.name} · ${state.streetNames.get(c.street) || c.street}`]);

// --- tabs -------------------------------------------------------------------------------

function tabButtons() {
  return [...document.querySelectorAll("#tabs [role=tab]")];
}

async function show(tab, { focus = false } = {}) {
  if (!TABS.includes(tab)) tab = TABS[0];
  for (const button of tabButtons()) {
    const on = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    if (on && focus) button.focus();
    $(button.getAttribute("aria-controls")).hidden = !on;
  }
  if (location.hash !== `#${tab}`) history.replaceState(null, "", `#${tab}`);
  if (tab === "coordinates") state.coordMap?.map.invalidateSize();
  if (state.loaded.has(tab)) return;
  state.loaded.add(tab);
  try {
    await reference();
    await LOADERS[tab]();
  } catch (error) {
    state.loaded.delete(tab);
    toast(problemText(error), { bad: true });
  }
}

function wireTabs() {
  const buttons = tabButtons();
  buttons.forEach((button, i) => {
    button.addEventListener("click", () => show(button.dataset.tab));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (event.key === "Home" || event.key === "End" || step) {
        event.preventDefault();
        const next = event.key === "Home" ? 0 : event.key === "End" ? buttons.length - 1 : (i + step + buttons.length) % buttons.length;
        show(buttons[next].dataset.tab, { focus: true });
      }
    });
  });
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
}

// --- users --------------------------------------------------------------------------------

const USERS_SHOWN = 50;

async function loadUsers() {
  const box = $("users");
  const load = begin("users");
  loadingInto(box);
  let users;
  try {
    users = await api("/api/users", REAL);
  } catch (error) {
    if (load.current()) errorInto(box, error);
    return;
  }
  if (!load.current()) return;
  state.users = users;
  renderUsers();
}

function renderUsers() {
  const box = $("users");
  const q = $("u-search").value.trim().toLowerCase();
  const roleName = (u) => t(`role.${u.role}`).toLowerCase();
  // newest first, and the account just created on top: with hundreds of users the list is
  // cut at USERS_SHOWN, and the commander must still see the one they made
  const first = (u) => (u.id === state.createdId ? 1 : 0);
  const matching = state.users
    .filter((u) => !q || u.username.toLowerCase().includes(q) || u.display_name.toLowerCase().includes(q) || roleName(u).includes(q))
    .sort((a, b) => first(b) - first(a) || b.id - a.id);
  const users = matching.slice(0, USERS_SHOWN);
  $("users-count").textContent = t("admin.users.count", { shown: users.length, n: matching.length });
  const scope = (u) =>
    u.community ? state.communityNames.get(u.community) || u.community : u.street ? state.streetNames.get(u.street) || u.street : t("admin.users.district");
  const rows = users.map((u) => [
    u.username,
    u.display_name,
    t(`role.${u.role}`),
    scope(u),
    h("span", { class: `badge ${u.disabled ? "bad" : "ok"}` }, t(u.disabled ? "admin.users.disabled" : "admin.users.enabled")),
    fmtTime(u.created_at),
    u.disabled || u.username === state.me?.username
      ? ""
      : h("button", { type: "button", class: "btn btn-danger", "aria-label": `${t("admin.users.disable")} ${u.username}`, onclick: () => disableUser(u) }, t("admin.users.disable")),
  ]);
  const headers = ["username", "name", "role", "scope", "state", "created", "actions"].map((c) => t(`admin.users.col.${c}`));
  clear(box).append(table(headers, rows));
}

async function disableUser(user) {
  if (!window.confirm(t("admin.users.confirm_disable", { name: user.username }))) return;
  try {
    await api(`/api/users/${user.id}/disable`, { ...REAL, method: "POST" });
    toast(t("admin.users.disabled_done", { name: user.username }));
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
  await loadUsers();
}

function generatePassword() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

function wireUsers() {
  const form = $("user-form");
  $("u-search").addEventListener("input", renderUsers);
  $("user-filter").addEventListener("submit", (event) => event.preventDefault());
  $("u-generate").addEventListener("click", () => {
    const input = $("u-password");
    input.value = generatePassword();
    input.type = "text";
    $("u-generated").hidden = false;
  });
  $("u-street").addEventListener("change", () => {
    options($("u-community"), communityOptions($("u-street").value), { blank: t("admin.none_option") });
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("user-error");
    const username = required(form, box, "username", "admin.users.username");
    if (!username) return;
    const password = form.elements.namedItem("password").value;
    if (password.length < 8) {
      fail(form, box, { field: "password", message: t("admin.required", { field: t("admin.users.password") }) });
      return;
    }
    const body = { username, password, role: form.elements.namedItem("role").value };
    const display = form.elements.namedItem("display_name").value.trim();
    if (display) body.display_name = display;
    if ($("u-street").value) body.street = $("u-street").value;
    if ($("u-community").value) body.community = $("u-community").value;
    try {
      const created = await api("/api/users", { ...REAL, method: "POST", body });
      ok(form, box);
      form.reset();
      $("u-password").type = "password";
      $("u-generated").hidden = true;
      toast(t("admin.users.created", { name: created.username }));
      state.createdId = created.id;
      await loadUsers();
    } catch (error) {
      fail(form, box, error);
    }
  });
}

async function initUsers() {
  options($("u-street"), streetOptions(), { blank: t("admin.none_option") });
  options($("u-community"), communityOptions(""), { blank: t("admin.none_option") });
  await loadUsers();
}

// --- reserve standards -----------------------------------------------------------------------

async function loadStandards() {
  const box = $("standards");
  const depot = $("std-depot").value;
  const load = begin("standards");
  loadingInto(box);
  let standards;
  try {
    standards = await api(`/api/stock/standards?depot=${encodeURIComponent(depot)}`);
  } catch (error) {
    if (load.current()) errorInto(box, error);
    return;
  }
  if (!load.current()) return;
  const rows = standards.map((s) => {
    const id = `std-${s.depot}-${s.item}`;
    const input = h("input", {
      id,
      type: "number",
      min: "0",
      step: "1",
      value: String(s.minimum),
      class: "num-input",
      "aria-label": `${t("admin.std.minimum")} ${itemLabel(s.item)}`,
      dataset: { depot: s.depot, item: s.item },
    });
    const save = h(
      "button",
      { type: "button", class: "btn", "aria-label": `${t("admin.std.save")} ${itemLabel(s.item)}`, onclick: () => saveStandard(input) },
      t("admin.std.save"),
    );
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") saveStandard(input);
    });
    const source = t(`admin.std.source.${s.source}`);
    return [
      itemLabel(s.item),
      h("span", { class: "row-actions" }, input, save),
      source.startsWith("admin.") ? s.source : source,
      fmtTime(s.updated_at),
    ];
  });
  clear(box).append(table([t("admin.std.item"), t("admin.std.minimum"), t("admin.std.source"), t("admin.std.updated")], rows));
}

async function saveStandard(input) {
  const box = $("std-error");
  const { depot, item } = input.dataset;
  const minimum = Number(input.value);
  input.removeAttribute("aria-invalid");
  if (input.value === "" || !Number.isInteger(minimum) || minimum < 0) {
    input.setAttribute("aria-invalid", "true");
    box.textContent = `${t("admin.required", { field: t("admin.std.minimum") })} (minimum)`;
    box.hidden = false;
    input.focus();
    return;
  }
  try {
    const saved = await api(`/api/stock/standards/${encodeURIComponent(depot)}/${encodeURIComponent(item)}`, { method: "PUT", body: { minimum } });
    box.hidden = true;
    toast(t("admin.std.saved", { depot, item: itemName(item), minimum: fmtNumber(saved.minimum) }));
    await loadStandards();
    $(`std-${depot}-${item}`)?.focus();
  } catch (error) {
    input.setAttribute("aria-invalid", "true");
    box.textContent = problemText(error);
    box.hidden = false;
  }
}

async function initStandards() {
  const chosen = $("std-depot").value;
  options($("std-depot"), state.depots.map((d) => [d.code, d.name]));
  if (chosen) $("std-depot").value = chosen;
  await loadStandards();
}

// --- partner units and pairings -----------------------------------------------------------------

async function loadUnits() {
  const box = $("units");
  const load = begin("units");
  loadingInto(box);
  let units;
  try {
    units = await api("/api/partner-units");
  } catch (error) {
    if (load.current()) errorInto(box, error);
    return;
  }
  if (!load.current()) return;
  state.units = units;
  const rows = state.units.map((u) => [
    h("code", {}, u.code), // the unit's own identifier, as its sheets spell it
    u.name,
    t(`admin.kind.${u.kind}`),
    u.contact_name || "",
    u.contact_phone || "",
    fmtNumber(u.pairings_counting),
    fmtNumber(u.communities.length),
  ]);
  const headers = [
    t("admin.units.code"),
    t("admin.units.name"),
    t("admin.units.kind"),
    t("admin.units.contact_name"),
    t("admin.units.contact_phone").replace(/[（(].*$/, ""),
    t("admin.units.col.pairings"),
    t("admin.units.col.communities"),
  ];
  clear(box).append(table(headers, rows, { numeric: [5, 6] }));
  options(
    $("pa-unit"),
    state.units.map((u) => [String(u.id), u.name]),
  );
}

async function loadPairings() {
  const box = $("pairings");
  const street = $("pf-street").value;
  const load = begin("pairings");
  loadingInto(box);
  let pairings;
  try {
    pairings = await api(`/api/pairings${street ? `?street=${street}` : ""}`);
  } catch (error) {
    if (load.current()) errorInto(box, error);
    return;
  }
  if (!load.current()) return;
  const rows = pairings.map((p) => {
    const select = h(
      "select",
      { "aria-label": `${t("admin.pairings.status")} #${p.id}`, id: `ps-${p.id}` },
      ["active", "suspended", "terminated"].map((s) => h("option", { value: s, selected: s === p.status }, t(`admin.pstatus.${s}`))),
    );
    const save = h(
      "button",
      { type: "button", class: "btn", "aria-label": `${t("admin.pairings.change")} #${p.id}`, onclick: () => savePairingStatus(p, select) },
      t("common.save"),
    );
    const badge = { active: "ok", pending: "warn", expired: "bad", suspended: "warn", terminated: "bad" }[p.effective_status] || "";
    return [
      `#${p.id}`,
      p.unit_name,
      p.community_name,
      `${fmtDate(p.valid_from)} – ${fmtDate(p.valid_until)}`,
      fmtNumber(p.pledged_people),
      h("span", { class: `badge ${badge}` }, t(`admin.pstatus.${p.effective_status}`)),
      t(p.counts ? "admin.yes" : "admin.no"),
      h("span", { class: "row-actions" }, select, save),
    ];
  });
  const headers = ["#", t("admin.pairings.unit"), t("admin.community"), t("admin.pairings.period"), t("admin.pairings.pledged_people"), t("admin.pairings.effective"), t("admin.pairings.counts"), t("admin.pairings.change")];
  clear(box).append(table(headers, rows, { numeric: [4] }));
}

async function savePairingStatus(pairing, select) {
  const box = $("pairing-list-error");
  try {
    await api(`/api/pairings/${pairing.id}/status`, { method: "PUT", body: { status: select.value } });
    box.hidden = true;
    toast(t("admin.pairings.status_saved", { id: pairing.id, status: t(`admin.pstatus.${select.value}`) }));
    await loadPairings();
  } catch (error) {
    box.textContent = problemText(error);
    box.hidden = false;
  }
}

function wireUnits() {
  const unitForm = $("unit-form");
  unitForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("unit-error");
    const code = required(unitForm, box, "code", "admin.units.code");
    if (!code) return;
    const name = required(unitForm, box, "name", "admin.units.name");
    if (!name) return;
    const body = { code, name, kind: unitForm.elements.namedItem("kind").value };
    for (const key of ["contact_name", "contact_phone"]) {
      const value = unitForm.elements.namedItem(key).value.trim();
      if (value) body[key] = value;
    }
    try {
      const created = await api("/api/partner-units", { method: "POST", body });
      ok(unitForm, box);
      unitForm.reset();
      toast(t("admin.units.created", { name: created.name }));
      await loadUnits();
    } catch (error) {
      fail(unitForm, box, error);
    }
  });
  const form = $("pairing-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("pairing-error");
    for (const [name, key] of [["signed_on", "admin.pairings.signed_on"], ["valid_from", "admin.pairings.valid_from"], ["valid_until", "admin.pairings.valid_until"]]) {
      if (!required(form, box, name, key)) return;
    }
    const value = (name) => form.elements.namedItem(name).value;
    const body = {
      unit_id: Number(value("unit_id")),
      community: value("community"),
      signed_on: value("signed_on"),
      valid_from: value("valid_from"),
      valid_until: value("valid_until"),
      pledged_people: Number(value("pledged_people") || 0),
      pledged_skills: [...form.querySelectorAll("#pa-skills input:checked")].map((el) => el.value),
    };
    if (value("note").trim()) body.note = value("note").trim();
    try {
      const created = await api("/api/pairings", { method: "POST", body });
      ok(form, box);
      toast(t("admin.pairings.created", { id: created.id }));
      await Promise.all([loadPairings(), loadUnits()]);
    } catch (error) {
      fail(form, box, error);
    }
  });
  $("pf-street").addEventListener("change", loadPairings);
}

async function initUnits() {
  options($("pf-street"), streetOptions());
  options($("pa-community"), communityOptions(""));
  state.skills = await api("/api/skills");
  const skills = $("pa-skills");
  skills.querySelectorAll("label").forEach((el) => el.remove());
  for (const skill of state.skills) {
    const id = `pa-skill-${skill.code}`;
    skills.append(h("label", { class: "check", for: id }, h("input", { type: "checkbox", id, value: skill.code }), skill.name));
  }
  const today = new Date().toISOString().slice(0, 10);
  const later = new Date(Date.now() + 3 * 365 * 86400 * 1000).toISOString().slice(0, 10);
  $("pa-signed").value = today;
  $("pa-from").value = today;
  $("pa-until").value = later;
  await Promise.all([loadUnits(), loadPairings()]);
}

// --- community coordinates ----------------------------------------------------------------------

function coordText(lat, lon) {
  return lat == null ? "" : `${Number(lat).toFixed(6)}, ${Number(lon).toFixed(6)}`;
}

async function loadCommunities() {
  const box = $("communities");
  const params = new URLSearchParams();
  if ($("cf-street").value) params.set("street", $("cf-street").value);
  if ($("cf-approximate").checked) params.set("approximate", "true");
  const load = begin("communities");
  loadingInto(box);
  let rows;
  try {
    rows = await api(`/api/communities?${params}`);
  } catch (error) {
    if (load.current()) errorInto(box, error);
    return;
  }
  if (!load.current()) return;
  const approximate = rows.filter((c) => c.approximate).length;
  $("coord-count").textContent = t("admin.coord.count", { n: rows.length, approx: approximate });
  const cells = rows.map((c) => {
    const source = t(`admin.coord.source.${c.coord_source}`);
    return [
      h("code", {}, c.code), // the statistics bureau's division code, which the sources use
      h("span", {}, c.name, h("br"), h("small", { class: "note" }, state.streetNames.get(c.street) || c.street)),
      coordText(c.lat, c.lon),
      coordText(c.lat_gcj02, c.lon_gcj02),
      source.startsWith("admin.") ? c.coord_source : source,
      h("span", { class: `badge ${c.approximate ? "warn" : "ok"}` }, c.approximate ? `⚠ ${t("admin.coord.approximate")}` : t("admin.coord.verified")),
      h("button", { type: "button", class: "btn", "aria-label": `${t("admin.coord.correct")} ${c.name}`, onclick: () => editCommunity(c) }, t("admin.coord.correct")),
    ];
  });
  const headers = ["code", "name", "wgs84", "gcj02", "source", "state"].map((k) => t(`admin.coord.col.${k}`));
  clear(box).append(table([...headers, t("admin.coord.correct")], cells));
  for (const [i, c] of rows.entries()) {
    if (c.approximate) box.querySelectorAll("tbody tr")[i]?.classList.add("approximate");
  }
  drawCommunities(rows);
}

// the map is an aid beside the table: without Leaflet (or the base layers) the table still works
async function ensureMap() {
  if (state.coordMap || !window.L) return state.coordMap;
  state.coordMap = createMap($("coord-map"), { layers: [["communities", t("admin.coord.map_layer")]] });
  state.coordMap.onClick(({ lat, lon }) => {
    if (!state.editing) return;
    const form = $("coord-form");
    form.elements.namedItem("system").value = "wgs84"; // the map is drawn in WGS-84
    form.elements.namedItem("lat").value = lat.toFixed(6);
    form.elements.namedItem("lon").value = lon.toFixed(6);
    showPick(lat, lon);
  });
  try {
    await state.coordMap.loadBase();
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
  return state.coordMap;
}

function drawCommunities(rows) {
  const m = state.coordMap;
  if (!m) return;
  m.clear("communities");
  const group = m.layer("communities");
  for (const c of rows) {
    const style = c.approximate
      ? { radius: 8, color: "#b45309", weight: 2, dashArray: "3 3", fillColor: "#fde68a", fillOpacity: 0.35 }
      : { radius: 6, color: "#1d4ed8", weight: 1, fillColor: "#1d4ed8", fillOpacity: 0.8 };
    const marker = window.L.circleMarker([c.lat, c.lon], { ...style, bubblingMouseEvents: false });
    describe(marker, c.approximate ? `${c.name} · ${t("admin.coord.approximate")}` : c.name);
    marker.on("click", () => editCommunity(c));
    marker.addTo(group);
  }
}

function showPick(lat, lon) {
  const m = state.coordMap;
  if (!m) return;
  if (!state.pick) {
    state.pick = window.L.circleMarker([lat, lon], { radius: 10, color: "#b91c1c", weight: 3, fill: false, interactive: false });
  }
  state.pick.setLatLng([lat, lon]).addTo(m.map);
}

function editCommunity(community) {
  state.editing = community;
  const form = $("coord-form");
  $("coord-form-title").textContent = t("admin.coord.form", { name: community.name, code: community.code });
  // start from the point as stored, in GCJ-02 where known (what Chinese maps show)
  const gcj = community.lat_gcj02 != null;
  form.elements.namedItem("system").value = gcj ? "gcj02" : "wgs84";
  form.elements.namedItem("lat").value = gcj ? community.lat_gcj02 : community.lat;
  form.elements.namedItem("lon").value = gcj ? community.lon_gcj02 : community.lon;
  form.elements.namedItem("note").value = "";
  ok(form, $("coord-error"));
  form.hidden = false;
  form.elements.namedItem("lat").focus();
  if (state.coordMap) {
    showPick(community.lat, community.lon);
    state.coordMap.map.setView([community.lat, community.lon], 15);
  }
}

function wireCoordinates() {
  const form = $("coord-form");
  $("cf-street").addEventListener("change", loadCommunities);
  $("cf-approximate").addEventListener("change", loadCommunities);
  $("co-cancel").addEventListener("click", () => {
    form.hidden = true;
    state.editing = null;
    state.pick?.remove();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("coord-error");
    const community = state.editing;
    if (!community) return;
    const lat = required(form, box, "lat", "admin.coord.lat");
    if (!lat) return;
    const lon = required(form, box, "lon", "admin.coord.lon");
    if (!lon) return;
    const body = { lat: Number(lat), lon: Number(lon), system: form.elements.namedItem("system").value };
    const note = form.elements.namedItem("note").value.trim();
    if (note) body.note = note;
    try {
      await api(`/api/communities/${community.code}/coordinates`, { method: "PUT", body });
      ok(form, box);
      form.hidden = true;
      state.editing = null;
      state.pick?.remove();
      toast(t("admin.coord.saved", { name: community.name }));
      await loadCommunities();
    } catch (error) {
      fail(form, box, error);
    }
  });
}

async function initCoordinates() {
  options($("cf-street"), streetOptions(), { blank: t("admin.all_streets") });
  await ensureMap();
  await loadCommunities();
}

// --- spreadsheet import -----------------------------------------------------------------------------

function showColumns() {
  const what = $("im-what").value;
  // the headers a sheet must have are identifiers (shown as code), the Chinese ones they may take after
  const [names, aliases] = COLUMNS[what];
  $("im-columns").replaceChildren(t("admin.imp.columns"), h("code", {}, names), " ", t("admin.imp.or_headers"), h("code", { lang: "zh-CN" }, aliases));
  $("im-dry").disabled = MULTIPART.has(what);
  if (MULTIPART.has(what)) $("im-dry").checked = false;
}

function showImportErrors(error) {
  const problems = error.problem?.errors || [];
  const rows = problems.map((p) => [p.row ?? "", p.column ?? p.field ?? "", p.message ?? ""]);
  const box = clear($("import-result"));
  box.append(h("p", { class: "error", role: "alert", id: "import-refused" }, `${t("admin.imp.refused")} ${problemText(error)}`));
  if (rows.length) {
    box.append(table([t("admin.imp.col.row"), t("admin.imp.col.column"), t("admin.imp.col.message")], rows, { numeric: [0] }));
    box.querySelector("table").id = "import-errors";
  }
}

function wireImports() {
  $("im-what").addEventListener("change", showColumns);
  const form = $("import-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const what = $("im-what").value;
    const file = $("im-file").files[0];
    const result = clear($("import-result"));
    $("im-file").removeAttribute("aria-invalid");
    if (!file) {
      $("im-file").setAttribute("aria-invalid", "true");
      result.append(h("p", { class: "error", role: "alert" }, `${t("admin.imp.need_file")} (file)`));
      $("im-file").focus();
      return;
    }
    const dry = $("im-dry").checked;
    try {
      if (what === "receipts") {
        const body = new FormData();
        body.append("data", file, file.name);
        const done = await api("/api/stock/imports/receipts", { method: "POST", body });
        result.append(h("p", { class: "ok-text", role: "status", id: "import-done" }, t("admin.imp.done_receipts", { rows: done.rows, movements: done.movements.length })));
      } else if (what === "vehicles") {
        const body = new FormData();
        body.append("data", file, file.name);
        const done = await api("/api/fleet/vehicles/import", { method: "POST", body });
        result.append(h("p", { class: "ok-text", role: "status", id: "import-done" }, t("admin.imp.done_vehicles", done)));
        state.loaded.delete("fleet");
      } else {
        const done = await api(`/api/imports/${what}${dry ? "?dry_run=true" : ""}`, { method: "POST", body: file });
        const key = done.dry_run ? "admin.imp.checked" : "admin.imp.done";
        result.append(h("p", { class: "ok-text", role: "status", id: "import-done" }, t(key, done)));
        if (!done.dry_run) state.loaded.delete("units");
      }
    } catch (error) {
      showImportErrors(error);
    }
  });
}

async function initImports() {
  showColumns();
}

// --- export -----------------------------------------------------------------------------------------

/** Downloads need the token (download.js); a refusal shows under the exports. */
function download(path, fallback) {
  return saveDownload(path, fallback, $("export-error"));
}

function initExports() {
  const box = clear($("exports"));
  const entries = [
    ...["people", "partner-units", "pairings", "care-households"].map((what) => [what, (fmt) => `/api/exports/${what}/${fmt}`]),
    ...["stock", "summary"].map((what) => [what, (fmt) => `/api/stock/exports/${what}?format=${fmt}`]),
  ];
  for (const [what, pathOf] of entries) {
    box.append(
      h(
        "div",
        { class: "export-row" },
        h("strong", {}, t(`admin.exp.${what}`)),
        ["csv", "xlsx"].map((fmt) =>
          h(
            "button",
            { type: "button", class: "btn", "aria-label": t("admin.exp.download", { what: t(`admin.exp.${what}`), format: fmt.toUpperCase() }), onclick: () => download(pathOf(fmt), `${what}.${fmt}`) },
            fmt.toUpperCase(),
          ),
        ),
      ),
    );
  }
  options($("ex-depot"), state.depots.map((d) => [d.code, d.name]));
  options($("ex-item"), [...state.items.values()].map((i) => [i.code, itemLabel(i.code)]));
}

function wireExports() {
  $("card-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const fmt = event.submitter?.dataset.format || "csv";
    const depot = $("ex-depot").value;
    const item = $("ex-item").value;
    download(`/api/stock/exports/card?depot=${encodeURIComponent(depot)}&item=${encodeURIComponent(item)}&format=${fmt}`, `card-${depot}-${item}.${fmt}`);
  });
}

const LOADERS = {
  users: initUsers,
  standards: initStandards,
  units: initUnits,
  fleet: () => initFleet(state.depots),
  plans: () => initPlans(state),
  service: () => initService(state),
  coordinates: initCoordinates,
  imports: initImports,
  exports: initExports,
};

// --- start ------------------------------------------------------------------------------------------

/** The tabs this user may use: all for a commander, else those their role is granted. */
async function tabsFor(user) {
  if (user.role === "commander") return ALL_TABS;
  const { permissions } = await vocabulary();
  return ALL_TABS.filter((tab) => TAB_NEEDS[tab] && (permissions[TAB_NEEDS[tab]] || []).includes(user.role));
}

async function start() {
  const user = await me();
  state.me = user;
  TABS = await tabsFor(user);
  if (!TABS.length) {
    $("need-commander").hidden = false;
    return;
  }
  for (const button of tabButtons()) if (!TABS.includes(button.dataset.tab)) button.remove();
  $("admin").hidden = false;
  const showDrillNote = () => {
    $("drill-note").hidden = !currentExercise();
  };
  showDrillNote();
  window.addEventListener("exercise-changed", () => {
    showDrillNote();
    state.loaded.clear(); // another world: reload what each tab shows
    show(location.hash.slice(1));
  });
  wireTabs();
  const wiring = { users: wireUsers, standards: () => $("std-depot").addEventListener("change", loadStandards), units: wireUnits, fleet: wireFleet, plans: wirePlans, service: wireService, coordinates: wireCoordinates, imports: wireImports, exports: wireExports };
  for (const tab of TABS) wiring[tab]();
  await show(location.hash.slice(1));
  $("main").dataset.ready = "true"; // the first tab is drawn (browser tests wait for it)
}

start();
