// The map's layers: communities (and who is on duty there), depots by stock, open need,
// the proposed plan's routes and closed roads; picking a closure's place on the map.
import { h } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { describe as describeLayer } from "/static/js/map.js";
import { $, cc, COMMUNITY_ZOOM, communityName, depotName, itemName, minutes, OPEN_REQUEST, PRIORITIES, ROUTE_COLOURS, S, state } from "/static/js/command/state.js";
import { dropLabels, setLabel, setSymbol } from "/static/js/command/labels.js";

// --- the map -------------------------------------------------------------------------------

/** A tooltip from text lines, built as DOM (names are data, never markup). */
export function tip(layer, lines) {
  const box = h("div", {}, ...lines.filter(Boolean).flatMap((line, i) => (i ? [h("br"), line] : [line])));
  return describeLayer(layer, box);
}

function onDutyOf(code) {
  return state.onDuty.find((c) => c.community === code)?.on_duty ?? 0;
}

export function drawCommunities() {
  if (!cc) return;
  const L = window.L;
  cc.clear("communities");
  const involved = new Set(state.incident?.communities || []);
  const chosen = declaring() ? new Set([...$("declare-communities").selectedOptions].map((o) => o.value)) : new Set();
  for (const c of state.communities.values()) {
    const picked = chosen.has(c.code);
    const dot = L.circleMarker([c.lat, c.lon], {
      radius: S * (picked ? 8 : involved.has(c.code) ? 6 : 4),
      color: picked ? "#c2410c" : "#1d4ed8",
      weight: c.approximate ? 1.5 : picked ? 3 : 1,
      fillColor: picked ? "#fb923c" : "#2563eb",
      fillOpacity: c.approximate && !picked ? 0 : 0.85,
      dashArray: c.approximate ? "2 2" : null,
      className: c.approximate ? "cc-community cc-approximate" : "cc-community",
    });
    tip(dot, [c.name, c.approximate ? t("command.approximate") : null, t("command.on_duty_n", { n: onDutyOf(c.code) })]);
    dot.on("add", () => dot.getElement()?.setAttribute("data-community", c.code));
    dot.on("click", () => declaring() && !state.picking && toggleDeclared(c.code));
    cc.layer("communities").addLayer(dot);
    const gap = S * 6 + 3;
    setLabel(`community:${c.code}`, [c.lat, c.lon], c.name, { kind: "community", priority: 10, minZoom: COMMUNITY_ZOOM, gap, owner: "communities" });
    if (involved.has(c.code)) {
      setLabel(`duty:${c.code}`, [c.lat, c.lon], t("command.on_duty_n", { n: onDutyOf(c.code) }), { kind: "duty", priority: 40, gap, owner: "duty" });
    }
  }
  dropLabels("duty", new Set([...involved].map((code) => `duty:${code}`)));
}

/** Street names at their points, kept clear of the street's depot square. */
export function drawStreets() {
  for (const s of state.streets.values()) {
    setLabel(`street:${s.code}`, [s.lat, s.lon], s.name, { kind: "street", priority: 30, gap: S * 9 + 4 });
  }
}

const declaring = () => $("cc-declare").open;

/** While the declare form is open, a tap on a community adds it to the incident (or drops it). */
function toggleDeclared(code) {
  const option = [...$("declare-communities").options].find((o) => o.value === code);
  if (!option) return;
  option.selected = !option.selected;
  drawCommunities();
}

/** Worst usable-stock percentage against standard of a depot's lines (null: no standard). */
function depotStock(depot) {
  const rows = state.stockSummary.filter((r) => (r.street ?? null) === (depot.street ?? null) && r.standard > 0);
  if (!rows.length) return null;
  const worst = rows.reduce((a, b) => (b.on_hand / b.standard < a.on_hand / a.standard ? b : a));
  return { percent: Math.round((100 * worst.on_hand) / worst.standard), item: worst.item };
}

export function drawDepots() {
  if (!cc) return;
  const L = window.L;
  cc.clear("depots");
  const out = new Set(state.outages.map((o) => o.depot));
  for (const d of state.depots.values()) {
    const stock = depotStock(d);
    let cls = stock == null ? "none" : stock.percent >= 100 ? "ok" : stock.percent >= 60 ? "warn" : "bad";
    if (out.has(d.code)) cls = "out";
    const size = Math.round(S * (d.kind === "district_reserve" ? 26 : 18));
    const marker = L.marker([d.lat, d.lon], {
      icon: L.divIcon({ className: `depot-icon ${cls}`, html: "", iconSize: [size, size] }),
      keyboard: false,
      zIndexOffset: 500,
    });
    marker.on("add", () => marker.getElement()?.setAttribute("data-depot", d.code));
    tip(marker, [d.name, stock ? t("command.depot_stock", { percent: stock.percent, item: itemName(stock.item) }) : t("command.depot_no_standard")]);
    cc.layer("depots").addLayer(marker);
    setSymbol(`depot:${d.code}`, [d.lat, d.lon], size / 2 + 2);
    if (d.kind === "district_reserve") setLabel(`depot:${d.code}`, [d.lat, d.lon], d.name, { kind: "depot", priority: 35, gap: size / 2 + 4, owner: "depots" });
    else if (cls === "out") setLabel(`depot:${d.code}`, [d.lat, d.lon], t("command.depot_out_label"), { kind: "depot-out", priority: 45, gap: size / 2 + 4, owner: "depots" });
  }
  dropLabels("depot-out", new Set(state.outages.map((o) => `depot:${o.depot}`)));
}

export function drawRequests() {
  if (!cc) return;
  const L = window.L;
  cc.clear("requests");
  const byCommunity = new Map();
  for (const r of state.requests) {
    if (!OPEN_REQUEST.has(r.status)) continue;
    const need = Math.max(0, r.quantity - r.delivered_qty);
    if (!need) continue;
    const entry = byCommunity.get(r.community) || { need: 0, priority: "normal", lines: [] };
    entry.need += need;
    if (PRIORITIES.indexOf(r.priority) < PRIORITIES.indexOf(entry.priority)) entry.priority = r.priority;
    entry.lines.push(`${itemName(r.item)} × ${need}`);
    byCommunity.set(r.community, entry);
  }
  for (const [code, entry] of byCommunity) {
    const c = state.communities.get(code);
    if (!c) continue;
    const colour = entry.priority === "critical" ? "#b91c1c" : entry.priority === "high" ? "#d97706" : "#dc2626";
    const circle = L.circleMarker([c.lat, c.lon], {
      radius: S * Math.min(42, 7 + 2.2 * Math.sqrt(entry.need)),
      color: colour,
      weight: 2,
      fillColor: colour,
      fillOpacity: 0.35,
      className: "cc-request",
    });
    tip(circle, [c.name, t("command.need_n", { n: entry.need }), t(`command.priority.${entry.priority}`), ...entry.lines.slice(0, 6)]);
    cc.layer("requests").addLayer(circle);
  }
}

export const latlngs = (coordinates) => (coordinates || []).map(([lon, lat]) => [lat, lon]);

const planRoutes = []; // polyline per plan line, in table order

/** Pointing at (or focusing into) a plan row picks out its route on the map. */
export function highlightRoute(index, on) {
  const route = planRoutes[index];
  if (!route) return;
  route.setStyle({ weight: S * (on ? 10 : 5), opacity: on ? 1 : 0.85 });
  if (on) route.bringToFront();
}

export function drawPlan() {
  if (!cc) return;
  const L = window.L;
  cc.clear("plan");
  planRoutes.length = 0;
  if (state.plan?.status !== "proposed") return;
  state.plan.lines.forEach((line, i) => {
    const route = L.polyline(latlngs(line.route.coordinates), {
      color: ROUTE_COLOURS[i % ROUTE_COLOURS.length],
      weight: 5 * S,
      opacity: 0.85,
      dashArray: `${10 * S} ${6 * S}`,
      className: "cc-plan-route",
    });
    tip(route, [`${i + 1}. ${depotName(line.depot)} → ${communityName(line.community)}`, `${itemName(line.item)} × ${line.quantity}`, `${t("command.plan.eta")} ${minutes(line.eta_s)}`]);
    cc.layer("plan").addLayer(route);
    planRoutes.push(route);
  });
}

let closureRenderer = null;

/** Closures draw in their own pane above the request circles (and below the symbols). */
function onTop() {
  if (!closureRenderer) {
    cc.map.createPane("closures").style.zIndex = 450;
    closureRenderer = window.L.svg({ pane: "closures" });
  }
  return { pane: "closures", renderer: closureRenderer };
}

export function drawClosures() {
  if (!cc) return;
  const L = window.L;
  cc.clear("closures");
  const top = onTop();
  for (const c of state.closures) {
    if (c.kind === "edge") {
      // one road: the service sends its two ends (the road map carries no node ids)
      if (!c.line) continue;
      const road = L.polyline(latlngs(c.line), { ...top, color: "#dc2626", weight: 6 * S, opacity: 0.9, className: "cc-closed-road cc-closed-edge" });
      tip(road, [`#${c.id} ${c.note || ""}`, t("command.closure.edge", { u: c.u, v: c.v })]);
      cc.layer("closures").addLayer(road);
      continue;
    }
    const ring = L.circle([c.lat, c.lon], {
      ...top,
      radius: c.radius_m,
      color: "#dc2626",
      weight: 2 * S,
      dashArray: `${4 * S} ${4 * S}`,
      fillColor: "#dc2626",
      fillOpacity: 0.12,
      className: "cc-closure",
    });
    tip(ring, [`#${c.id} ${c.note || ""}`, t("command.closure.roads", { n: cc.roadsNear([c.lat, c.lon], c.radius_m).length })]);
    cc.layer("closures").addLayer(ring);
    const segments = cc.roadsNear([c.lat, c.lon], c.radius_m);
    if (segments.length) {
      cc.layer("closures").addLayer(L.polyline(segments, { ...top, color: "#dc2626", weight: 6 * S, opacity: 0.95, className: "cc-closed-road", interactive: false }));
    }
  }
}

export function setPicking(on) {
  state.picking = on;
  $("cc-map").classList.toggle("picking", on);
  $("closure-pick").setAttribute("aria-pressed", String(on));
  $("cc-pick").hidden = !on;
  $("cc-pick-text").textContent = t("command.closure.picking", { radius: $("closure-radius").value });
}
