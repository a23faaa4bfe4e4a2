// Labels on the map that never overlap: street names at their points, community names
// from a zoom level, how many are on duty, and what each vehicle carries. After every
// move, zoom or redraw they are placed greedily by priority: each tries the spots around
// its point (right, left, above, below) and takes the first whose pixel box meets no
// label already placed and no depot or vehicle symbol; a label with no free spot hides.
import { cc } from "/static/js/command/state.js";

const entries = new Map(); // key -> { marker, span, latlng, kind, priority, minZoom, gap, owner, w, h }
const symbols = new Map(); // key -> { latlng, half } symbols labels must not cover
const MARGIN = 2; // px kept free between two labels
let covers = []; // selectors of what lies over the map (the wall's legend and figures)

/** Panels laid over the map: labels keep out from under them. */
export function setCovers(selectors) {
  covers = selectors;
  schedulePlace();
}
let due = false;

/** Put (or update) the label `key`: `owner` is the layer whose switch also hides it. */
export function setLabel(key, latlng, text, { kind, priority, minZoom = 0, gap = 6, owner = "labels", stack = false }) {
  const L = window.L;
  let e = entries.get(key);
  if (!e) {
    const marker = L.marker(latlng, {
      icon: L.divIcon({ className: `map-label map-label-${kind} off`, html: "", iconSize: [0, 0], iconAnchor: [0, 0] }),
      keyboard: false,
      interactive: false,
      pane: "labels",
    });
    e = { marker, span: null, text: null, w: 0, h: 0 };
    marker.on("add", () => {
      e.span = document.createElement("span");
      e.span.textContent = e.text;
      marker.getElement().append(e.span);
      e.w = 0; // measured at the next placing
      schedulePlace();
    });
    entries.set(key, e);
    cc.layer("labels").addLayer(marker);
  }
  Object.assign(e, { latlng, kind, priority, minZoom, gap, owner, stack });
  e.marker.setLatLng(latlng);
  if (e.text !== text) {
    e.text = text;
    e.w = 0;
    if (e.span) e.span.textContent = text;
  }
  schedulePlace();
}

/** Drop every label of `kind` whose key is not in `keep`. */
export function dropLabels(kind, keep = new Set()) {
  for (const [key, e] of entries) {
    if (e.kind !== kind || keep.has(key)) continue;
    cc.layer("labels").removeLayer(e.marker);
    entries.delete(key);
  }
  schedulePlace();
}

/** A symbol (depot square, vehicle dot) of `half` px half-size that labels keep off. */
export function setSymbol(key, latlng, half) {
  symbols.set(key, { latlng, half });
}

export function dropSymbols(prefix) {
  for (const key of symbols.keys()) if (key.startsWith(prefix)) symbols.delete(key);
}

/** Place the labels once the browser is done with this frame (bursts become one pass). */
export function schedulePlace() {
  if (due || !cc) return;
  due = true;
  requestAnimationFrame(() => {
    due = false;
    placeLabels();
  });
}

const meets = (a, b) => a.x < b.x + b.w + MARGIN && b.x < a.x + a.w + MARGIN && a.y < b.y + b.h + MARGIN && b.y < a.y + a.h + MARGIN;

/** The spots a label tries around its point, best first, as offsets of its top-left:
 * right, left, above, below at growing distances, then (`stack`) in rows beside the
 * point, so the vehicles waiting at one depot each get their line. */
function spots(e) {
  const { w, h, gap } = e;
  const out = [];
  for (const d of [gap, gap + 10, gap + 24]) {
    out.push([d, -h / 2], [-d - w, -h / 2], [-w / 2, -d - h], [-w / 2, d], [d, -h - d / 2], [d, d / 2]);
  }
  for (let k = 1; k <= (e.stack ? 8 : 0); k++) {
    const d = gap + 10;
    out.push([d, -h / 2 - k * (h + 3)], [d, -h / 2 + k * (h + 3)], [-d - w, -h / 2 - k * (h + 3)], [-d - w, -h / 2 + k * (h + 3)]);
  }
  return out;
}

/** What labels must leave visible: the symbols, and the map's own controls. */
function symbolBoxes(map) {
  const boxes = [...symbols.values()].map(({ latlng, half }) => {
    const p = map.latLngToContainerPoint(latlng);
    return { x: p.x - half, y: p.y - half, w: 2 * half, h: 2 * half };
  });
  const frame = map.getContainer().getBoundingClientRect();
  const over = [...map.getContainer().querySelectorAll(".leaflet-control"), ...covers.flatMap((sel) => [...document.querySelectorAll(sel)])];
  for (const control of over) {
    const r = control.getBoundingClientRect();
    if (r.width && r.height) boxes.push({ x: r.left - frame.left, y: r.top - frame.top, w: r.width, h: r.height });
  }
  return boxes;
}

function visible(e, map, zoom) {
  return e.span && zoom >= e.minZoom && map.hasLayer(cc.layer(e.owner)) && map.hasLayer(cc.layer("labels"));
}

/** Greedy placement by priority (then by key order, so the same map places the same). */
export function placeLabels() {
  if (!cc || !cc.map._loaded) return; // no view yet: placed at the first fit's moveend
  const map = cc.map;
  const zoom = map.getZoom();
  const size = map.getSize();
  const taken = symbolBoxes(map);
  const list = [...entries.values()].sort((a, b) => b.priority - a.priority);
  for (const e of list) {
    const el = e.marker.getElement();
    if (!el) continue;
    if (!visible(e, map, zoom)) {
      el.classList.add("off");
      continue;
    }
    if (!e.w) {
      el.classList.remove("off");
      e.w = e.span.offsetWidth;
      e.h = e.span.offsetHeight;
    }
    const p = map.latLngToContainerPoint(e.latlng).round();
    const spot = spots(e)
      .map(([dx, dy]) => ({ dx: Math.round(dx), dy: Math.round(dy) }))
      .map(({ dx, dy }) => ({ dx, dy, box: { x: p.x + dx, y: p.y + dy, w: e.w, h: e.h } }))
      .find(({ box }) => box.x >= 0 && box.y >= 0 && box.x + box.w <= size.x && box.y + box.h <= size.y && !taken.some((t) => meets(box, t)));
    el.classList.toggle("off", !spot);
    if (!spot) continue;
    e.span.style.left = `${spot.dx}px`;
    e.span.style.top = `${spot.dy}px`;
    taken.push(spot.box);
  }
}

/** Placing follows the map: after each move and zoom. */
export function watchLabels() {
  cc.map.createPane("labels").style.zIndex = 640; // above markers (600), below tooltips
  cc.map.getPane("labels").style.pointerEvents = "none";
  cc.map.on("moveend zoomend resize overlayadd overlayremove", schedulePlace);
}
