// Shelters (安置点) on the command center: each one on the map as a diamond in its status's
// colour (ready, open, full, closed) with its occupancy against capacity, and a panel
// listing them by street, open and full ones first. The live feed's `shelter.*` events
// (an intake, a discharge, an activation opening one) reload both.
import { api } from "/static/js/api.js";
import { clear, h, table } from "/static/js/dom.js";
import { fmtNumber, t } from "/static/js/i18n.js";
import { $, badge, cc, communityName, S, state } from "/static/js/command/state.js";
import { tip } from "/static/js/command/layers.js";

// what else shows shelters' names (the call-out board's activations) redraws on a load
export const shelters = { list: [], byId: new Map(), loaded: [] };
const FIRST = ["full", "open", "ready", "closed"];

export const shelterName = (id) => shelters.byId.get(id)?.name || t("prep.shelter.number", { id });
const streetName = (code) => state.streets.get(code)?.name || code;

function facilities(s) {
  return ["heating", "accessible", "medical"].filter((f) => s[f]).map((f) => t(`prep.shelter.${f}`)).join(t("prep.sep"));
}

/** "12 / 80 人" beside a bar of the share taken. */
export function occupancy(s) {
  const share = s.capacity ? Math.min(100, Math.round((100 * s.occupancy) / s.capacity)) : 0;
  return h(
    "span",
    { class: "occupancy", dataset: { occupancy: String(s.occupancy), capacity: String(s.capacity) } },
    h("span", { class: `occupancy-bar ${s.status === "full" ? "full" : ""}`, "aria-hidden": "true" }, h("span", { style: `width: ${share}%` })),
    t("prep.shelter.occupancy_of", { occupancy: fmtNumber(s.occupancy), capacity: fmtNumber(s.capacity) }),
  );
}

export async function loadShelters() {
  const list = await api("/api/shelters");
  shelters.list = list;
  shelters.byId = new Map(list.map((s) => [s.id, s]));
  renderShelters();
  drawShelters();
  shelters.loaded.forEach((redraw) => redraw());
}

export function renderShelters() {
  const wanted = $("shelter-street").value;
  const openOnly = $("shelter-open-only").checked;
  const list = shelters.list
    .filter((s) => (!wanted || s.street === wanted) && (!openOnly || s.status === "open" || s.status === "full"))
    .sort((a, b) => FIRST.indexOf(a.status) - FIRST.indexOf(b.status) || a.street.localeCompare(b.street) || a.name.localeCompare(b.name));
  const open = shelters.list.filter((s) => s.status === "open" || s.status === "full");
  const people = open.reduce((n, s) => n + s.occupancy, 0);
  const room = open.reduce((n, s) => n + s.room, 0);
  $("shelter-figures").textContent = t("prep.shelter.figures", { open: fmtNumber(open.length), people: fmtNumber(people), room: fmtNumber(room) });
  const rows = list.map((s) => [
    s.name,
    `${streetName(s.street)} · ${communityName(s.community)}`,
    badge(t(`shelter.status.${s.status}`), `shelter-${s.status}`),
    occupancy(s),
    fmtNumber(s.room),
    facilities(s),
  ]);
  const headers = [t("prep.shelter.name"), t("prep.shelter.place"), t("prep.shelter.status"), t("prep.shelter.occupancy"), t("prep.shelter.room"), t("prep.shelter.facilities")];
  const box = clear($("shelters"));
  box.append(table(headers, rows, { numeric: [4] }));
  box.querySelectorAll("tbody tr").forEach((tr, i) => {
    if (!list[i]) return;
    tr.dataset.shelter = String(list[i].id);
    tr.dataset.status = list[i].status;
  });
}

export function drawShelters() {
  if (!cc) return;
  const L = window.L;
  const layer = cc.layer("shelters", t("prep.layer.shelters"));
  layer.clearLayers();
  const size = Math.round(S * 16);
  for (const s of shelters.list) {
    const marker = L.marker([s.lat, s.lon], {
      icon: L.divIcon({ className: `shelter-icon ${s.status}`, html: "<span></span>", iconSize: [size, size] }),
      keyboard: false,
      zIndexOffset: 400,
    });
    marker.on("add", () => {
      const el = marker.getElement();
      el?.setAttribute("data-shelter", String(s.id));
      el?.setAttribute("data-status", s.status);
    });
    const figures = t("prep.shelter.occupancy_of", { occupancy: fmtNumber(s.occupancy), capacity: fmtNumber(s.capacity) });
    tip(marker, [s.name, `${t(`shelter.status.${s.status}`)} · ${figures}`, t("prep.shelter.room_n", { n: fmtNumber(s.room) }), facilities(s)]);
    layer.addLayer(marker);
  }
}

/** The street filter, once the streets are known. */
export function fillShelterForms() {
  const select = $("shelter-street");
  select.append(h("option", { value: "" }, t("prep.plans.all_streets")));
  for (const s of state.streets.values()) select.append(h("option", { value: s.code }, s.name));
  select.addEventListener("change", renderShelters);
  $("shelter-open-only").addEventListener("change", renderShelters);
}
