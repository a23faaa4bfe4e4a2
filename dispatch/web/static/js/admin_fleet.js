// The administration's fleet tab: each depot's vehicles with their status (changed in
// place) and crews, and a form to add a vehicle. A built-in kind's capacity may be left
// blank (the service fills illustrative defaults); a user-defined kind names its lane class.
import { api } from "/static/js/api.js";
import { clear, clearRefusal, h, problemText, showRefusal, table, toast } from "/static/js/dom.js";
import { fmtNumber, lang, t } from "/static/js/i18n.js";

const $ = (id) => document.getElementById(id);
const KINDS = ["tricycle", "car", "van", "truck"];
const STATUSES = ["available", "out", "maintenance"];
const fleet = { depots: [], names: new Map(), generation: 0 };

function options(select, entries, blank) {
  clear(select);
  if (blank) select.append(h("option", { value: "" }, blank));
  for (const [value, label] of entries) select.append(h("option", { value }, label));
}

// a user-defined kind is the code its author coined (shown as code, like the vehicle's own)
const kindLabel = (kind) => (KINDS.includes(kind) ? t(`admin.fleet.kind.${kind}`) : h("code", {}, kind));
const shiftText = (v) => (v.shift_start ? `${v.shift_start.slice(0, 5)}–${v.shift_end.slice(0, 5)}` : "");

function crewText(v) {
  const names = v.crew.map((m) => (m.role === "driver" ? t("admin.fleet.as_driver", { name: m.name }) : m.name));
  const text = `${names.join(lang === "zh" ? "、" : ", ")} ${v.crew.length}/${v.crew_needed}`.trim();
  return v.crewed ? text : h("span", {}, `${text} `, h("span", { class: "badge warn" }, t("admin.fleet.no_driver")));
}

function statusSelect(v) {
  const select = h(
    "select",
    { "aria-label": `${t("admin.fleet.status")} ${v.code}`, dataset: { vehicle: String(v.id) } },
    STATUSES.map((s) => h("option", { value: s }, t(`admin.fleet.status.${s}`))),
  );
  select.value = v.status;
  select.addEventListener("change", async () => {
    try {
      const saved = await api(`/api/fleet/vehicles/${v.id}`, { method: "PATCH", body: { status: select.value } });
      toast(t("admin.fleet.status_saved", { code: saved.code, status: t(`admin.fleet.status.${saved.status}`) }));
    } catch (error) {
      select.value = v.status;
      toast(problemText(error), { bad: true });
    }
  });
  return select;
}

function row(v) {
  const own = h("code", {}, v.code);
  const code = v.illustrative ? [own, " ", h("span", { class: "badge" }, t("admin.fleet.illustrative"))] : own;
  return [
    h("span", {}, code),
    kindLabel(v.kind),
    v.name || "",
    `${fmtNumber(v.payload_kg)} kg / ${fmtNumber(v.volume_m3)} m³`,
    crewText(v),
    shiftText(v),
    statusSelect(v),
  ];
}

export async function loadFleet() {
  const box = $("fleet");
  const generation = ++fleet.generation;
  clear(box).append(h("p", { class: "note" }, t("common.loading")));
  const query = new URLSearchParams();
  if ($("fl-depot").value) query.set("depot", $("fl-depot").value);
  if ($("fl-status").value) query.set("status", $("fl-status").value);
  let vehicles;
  try {
    vehicles = await api(`/api/fleet/vehicles?${query}`);
  } catch (error) {
    if (generation === fleet.generation) clear(box).append(h("p", { class: "error", role: "alert" }, problemText(error)));
    return;
  }
  if (generation !== fleet.generation) return;
  clear(box).append(h("p", { class: "note", role: "status", id: "fleet-count" }, t("admin.fleet.count", { count: vehicles.length })));
  const headers = ["code", "kind", "name", "col.capacity", "col.crew", "col.shift", "status"].map((k) => t(`admin.fleet.${k}`));
  for (const depot of [...new Set(vehicles.map((v) => v.depot))]) {
    const rows = vehicles.filter((v) => v.depot === depot).map(row);
    box.append(table(headers, rows, { caption: fleet.names.get(depot) || depot }));
  }
}

function bodyOf(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const kind = value("kind") === "other" ? value("custom_kind") : value("kind");
  const body = { code: value("code"), depot: value("depot"), kind };
  if (value("lane_class")) body.lane_class = value("lane_class");
  for (const name of ["payload_kg", "volume_m3", "crew_needed"]) {
    if (value(name)) body[name] = Number(value(name));
  }
  for (const name of ["shift_start", "shift_end"]) {
    if (value(name)) body[name] = `${value(name).slice(0, 5)}:00`;
  }
  for (const name of ["name", "note"]) {
    if (value(name)) body[name] = value(name);
  }
  return body;
}

export function wireFleet() {
  const form = $("vehicle-form");
  const box = $("vehicle-error");
  const custom = () => {
    $("ve-custom").hidden = $("ve-kind").value !== "other";
    $("ve-custom-label").hidden = $("ve-custom").hidden;
  };
  $("ve-kind").addEventListener("change", custom);
  custom();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = bodyOf(form);
    if (!body.code) {
      showRefusal(form, box, { field: "code", message: t("admin.required", { field: t("admin.fleet.code") }) });
      return;
    }
    try {
      const created = await api("/api/fleet/vehicles", { method: "POST", body });
      clearRefusal(form, box);
      form.reset();
      $("ve-kind").value = "van";
      custom();
      toast(t("admin.fleet.created", { code: created.code }));
      await loadFleet();
    } catch (error) {
      showRefusal(form, box, error);
      if (error.field === "kind" && $("ve-kind").value === "other") {
        $("ve-custom").setAttribute("aria-invalid", "true");
        $("ve-custom").focus();
      }
    }
  });
  $("fl-depot").addEventListener("change", loadFleet);
  $("fl-status").addEventListener("change", loadFleet);
}

export async function initFleet(depots) {
  fleet.depots = depots;
  for (const d of depots) fleet.names.set(d.code, d.name);
  const entries = depots.map((d) => [d.code, d.name]);
  options($("fl-depot"), entries, t("admin.fleet.all_depots"));
  options($("fl-status"), STATUSES.map((s) => [s, t(`admin.fleet.status.${s}`)]), t("admin.fleet.all_status"));
  options($("ve-depot"), entries);
  options($("ve-kind"), [...KINDS.map((k) => [k, t(`admin.fleet.kind.${k}`)]), ["other", t("admin.fleet.kind.other")]]);
  options($("ve-lane"), KINDS.map((k) => [k, t(`admin.fleet.kind.${k}`)]), t("admin.none_option"));
  $("ve-kind").value = "van";
  $("ve-kind").dispatchEvent(new Event("change"));
  await loadFleet();
}
