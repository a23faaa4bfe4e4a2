// A district map drawn only from the service's own data: no tile server, every layer is a
// vector (boundary, roads, places, routes). Any page may use it:
//   const m = createMap(document.getElementById("map"));
//   await m.loadBase();                  // boundary + road network (marked when synthetic)
//   m.layer("depots").addLayer(...);     // named layer groups, listed in the layer switch
//   m.clear("depots"); m.onClick(({lat, lon}) => ...); m.along(coords, 0.5)
// Leaflet itself comes from /static/leaflet/leaflet.js (a classic script, global `L`): load
// it and /static/leaflet/leaflet.css before this module. Its labels are the `command.map.*`
// messages (every page gets every message file).
import { api } from "/static/js/api.js";
import { t } from "/static/js/i18n.js";

const ROAD_STYLE = {
  arterial: { color: "#64748b", weight: 3 },
  collector: { color: "#94a3b8", weight: 2 },
  hutong: { color: "#cbd5e1", weight: 1 },
};
// a dark wall: light roads on a dark district, read across a room
const DARK_ROAD_STYLE = {
  arterial: { color: "#94a3b8", weight: 4 },
  collector: { color: "#64748b", weight: 2.5 },
  hutong: { color: "#334155", weight: 1.5 },
};
const BOUNDARY_STYLE = { color: "#1e3a8a", weight: 3, fillColor: "#ffffff", fillOpacity: 0.85, dashArray: "8 4" };
const DARK_BOUNDARY_STYLE = { color: "#93c5fd", weight: 4, fillColor: "#0f172a", fillOpacity: 0.95, dashArray: "10 5" };

/** Metres between two points (equirectangular: exact enough inside one district). */
export function metres(a, b) {
  const k = Math.PI / 180;
  const x = (b[1] - a[1]) * k * Math.cos(((a[0] + b[0]) / 2) * k);
  const y = (b[0] - a[0]) * k;
  return Math.hypot(x, y) * 6371000;
}

/** Distance in metres from point p to segment a-b (all [lat, lon]). */
export function segmentMetres(p, a, b) {
  const k = (Math.PI / 180) * 6371000;
  const c = Math.cos(p[0] * (Math.PI / 180));
  const ax = (a[1] - p[1]) * k * c, ay = (a[0] - p[0]) * k;
  const bx = (b[1] - p[1]) * k * c, by = (b[0] - p[0]) * k;
  const dx = bx - ax, dy = by - ay;
  const len = dx * dx + dy * dy;
  const s = len ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len)) : 0;
  return Math.hypot(ax + s * dx, ay + s * dy);
}

/** The point a `fraction` (0..1) of the way along a line of [lon, lat] pairs, as [lat, lon]. */
export function along(coordinates, fraction) {
  const pts = (coordinates || []).map(([lon, lat]) => [lat, lon]);
  if (!pts.length) return null;
  if (pts.length === 1 || fraction <= 0) return pts[0];
  if (fraction >= 1) return pts[pts.length - 1];
  const legs = pts.slice(1).map((p, i) => metres(pts[i], p));
  let left = legs.reduce((s, d) => s + d, 0) * fraction;
  for (let i = 0; i < legs.length; i++) {
    if (left <= legs[i] && legs[i] > 0) {
      const f = left / legs[i];
      return [pts[i][0] + (pts[i + 1][0] - pts[i][0]) * f, pts[i][1] + (pts[i + 1][1] - pts[i][1]) * f];
    }
    left -= legs[i];
  }
  return pts[pts.length - 1];
}

/**
 * A hover/tap tooltip for a map layer, kept out of the Tab order: Chromium makes an SVG shape
 * with focus listeners (Leaflet's tooltips add them) a tab stop, and hundreds of dots before
 * the page's panels would make the keyboard useless. The same facts are in the panels.
 */
export function describe(layer, content, options = {}) {
  layer.bindTooltip(content, { className: "cc-tip", ...options });
  layer.on("add", () => layer.getElement?.()?.setAttribute("tabindex", "-1"));
  return layer;
}

/**
 * A Leaflet map in `element` with named layer groups. Returns helpers; `map` is the Leaflet
 * map itself for anything else. `dark` draws for a dark wall; `padding` is the room (px,
 * [top-left, bottom-right] as Leaflet's) the district is fitted inside of.
 */
export function createMap(element, { layers: names = [], dark = false, padding = [[8, 8], [8, 8]] } = {}) {
  const roadStyle = dark ? DARK_ROAD_STYLE : ROAD_STYLE;
  const fitted = { paddingTopLeft: padding[0], paddingBottomRight: padding[1] };
  const L = window.L;
  const map = L.map(element, { zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 11, maxZoom: 19, zoomControl: false });
  L.control.zoom({ zoomInTitle: t("command.map.zoom_in"), zoomOutTitle: t("command.map.zoom_out") }).addTo(map);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(t("command.map.attribution"));
  map.createPane("boundary").style.zIndex = 300;
  map.createPane("roads").style.zIndex = 350;
  const roadRenderer = L.canvas({ pane: "roads", padding: 0.3 });
  const groups = new Map();
  const switcher = L.control.layers(null, null, { collapsed: true, position: "topright" }).addTo(map);
  const toggle = switcher.getContainer().querySelector("a");
  toggle.title = t("command.map.layers");
  toggle.setAttribute("aria-label", t("command.map.layers"));
  let roadLines = []; // [[lat, lon], ...] per drawn line, for finding closed roads
  let network = null;
  let bounds = null;

  const layer = (name, label) => {
    if (!groups.has(name)) {
      const group = L.layerGroup().addTo(map);
      groups.set(name, group);
      if (label) switcher.addOverlay(group, label);
    }
    return groups.get(name);
  };
  for (const [name, label] of names) layer(name, label);

  const note = L.control({ position: "bottomleft" });
  note.onAdd = () => {
    const box = L.DomUtil.create("div", "map-note");
    box.setAttribute("role", "note");
    return box;
  };
  note.addTo(map);

  function drawBoundary(geojson) {
    const group = layer("boundary", t("command.map.layer.boundary"));
    group.clearLayers();
    const shape = L.geoJSON(geojson, {
      pane: "boundary",
      interactive: false,
      style: dark ? DARK_BOUNDARY_STYLE : BOUNDARY_STYLE,
    }).addTo(group);
    bounds = shape.getBounds();
    map.fitBounds(bounds, fitted);
    map.setMaxBounds(bounds.pad(0.6));
  }

  function drawRoads(geojson) {
    const group = layer("roads", t("command.map.layer.roads"));
    group.clearLayers();
    roadLines = [];
    for (const feature of geojson.features || []) {
      const cls = feature.properties?.road_class;
      const style = roadStyle[cls] || roadStyle.collector;
      const lines = feature.geometry.coordinates.map((line) => line.map(([lon, lat]) => [lat, lon]));
      roadLines.push(...lines);
      L.polyline(lines, { ...style, renderer: roadRenderer, interactive: false, opacity: 0.9 }).addTo(group);
    }
    network = geojson.network || null;
    const box = note.getContainer();
    box.textContent = network?.synthetic ? t("command.map.synthetic") : `${t("command.map.real")}: ${network?.name || ""}`;
    box.classList.toggle("synthetic", Boolean(network?.synthetic));
    return network;
  }

  /** The boundary and road network from the API; resolves to the network's description. */
  async function loadBase() {
    const [boundary, roads] = await Promise.all([api("/api/map/boundary"), api("/api/map/roads")]);
    drawBoundary(boundary);
    return drawRoads(roads);
  }

  /** Road segments passing within `radius` metres of [lat, lon] (as a closure takes them). */
  function roadsNear(point, radius) {
    const hits = [];
    const reach = radius / 111000 + 0.0005;
    for (const line of roadLines) {
      for (let i = 1; i < line.length; i++) {
        const a = line[i - 1], b = line[i];
        if (Math.min(a[0], b[0]) - reach > point[0] || Math.max(a[0], b[0]) + reach < point[0]) continue;
        if (segmentMetres(point, a, b) <= radius) hits.push([a, b]);
      }
    }
    return hits;
  }

  return {
    map,
    layer,
    clear: (name) => groups.get(name)?.clearLayers(),
    drawBoundary,
    drawRoads,
    loadBase,
    roadsNear,
    along,
    network: () => network,
    fit: () => bounds && map.fitBounds(bounds, fitted),
    /** `fn({lat, lon})` on a click on the map (not on a marker). Returns a remover. */
    onClick(fn) {
      const handler = (e) => fn({ lat: e.latlng.lat, lon: e.latlng.lng });
      map.on("click", handler);
      return () => map.off("click", handler);
    },
  };
}
