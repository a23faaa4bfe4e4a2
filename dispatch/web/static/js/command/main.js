// The command center's wall screen: a live map of the district and the panels to run an
// incident (declare, closures, requests, plan review and approval, people, figures,
// alerts). Every view reloads from the API when the live feed says it changed.
import { me } from "/static/js/api.js";
import { clear, h, problemText, toast } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { subscribe } from "/static/js/live.js";
import { createMap } from "/static/js/map.js";
import { vocabulary } from "/static/js/vocabulary.js";
import { $, cc, gate, INCIDENT_KEY, itemName, LEVELS, PRIORITIES, setMap, SOURCES, state, TYPES, useVocabulary, WALL } from "/static/js/command/state.js";
import { INCIDENT_VIEWS, liveStatus, LOADERS, loadIncidents, loadPlaces, onEvent, refresh, run } from "/static/js/command/loaders.js";
import { drawClosures, drawCommunities, drawStreets, setPicking } from "/static/js/command/layers.js";
import { setCovers, watchLabels } from "/static/js/command/labels.js";
import { fetchedTracks, moveTransfers, showDrillClock, syncDrillClock, tracks } from "/static/js/command/transfers.js";
import { renderDuty, renderIncidents, showTab } from "/static/js/command/panels.js";
import { printOpen } from "/static/js/command/review.js";
import { addRequest, advance, closeAt, declare, makePlan } from "/static/js/command/actions.js";
import { fillHotlineForms } from "/static/js/command/hotline.js";
import { fillShelterForms } from "/static/js/command/shelters.js";

// This module wires the others: forms, buttons, the map, the feed and the clocks.

function fillForms() {
  TYPES.forEach((x) => $("declare-type").append(h("option", { value: x }, t(`command.type.${x}`))));
  LEVELS.forEach((x) => $("declare-level").append(h("option", { value: x, selected: x === "III" }, t(`command.level.${x}`))));
  const byStreet = new Map();
  for (const c of state.communities.values()) {
    if (!byStreet.has(c.street)) byStreet.set(c.street, []);
    byStreet.get(c.street).push(c);
  }
  for (const [street, list] of byStreet) {
    $("declare-communities").append(h("optgroup", { label: state.streets.get(street)?.name || street }, list.map((c) => h("option", { value: c.code }, c.name + (c.approximate ? " *" : "")))));
  }
  for (const item of state.items.values()) $("request-item").append(h("option", { value: item.code }, itemName(item.code)));
  PRIORITIES.forEach((x) => $("request-priority").append(h("option", { value: x, selected: x === "normal" }, t(`command.priority.${x}`))));
  SOURCES.forEach((x) => $("request-source").append(h("option", { value: x }, t(`command.source.${x}`))));
}

function wire() {
  for (const tab of document.querySelectorAll('.cc-side [role="tab"]')) tab.addEventListener("click", () => showTab(tab.id.slice(4)));
  $("cc-incident").addEventListener("change", (e) => {
    const id = Number(e.target.value);
    state.incident = state.incidents.find((i) => i.id === id) || null;
    localStorage.setItem(INCIDENT_KEY, String(id));
    state.suggestions = null;
    clear($("suggestions"));
    renderIncidents();
    renderDuty();
    refresh(...INCIDENT_VIEWS);
  });
  $("declare-form").addEventListener("submit", declare);
  $("request-form").addEventListener("submit", addRequest);
  $("plan-make").addEventListener("click", makePlan);
  $("plan-replan").addEventListener("click", makePlan);
  $("closure-pick").addEventListener("click", () => setPicking(!state.picking));
  $("cc-pick-cancel").addEventListener("click", () => setPicking(false));
  $("closure-radius").addEventListener("input", () => state.picking && setPicking(true));
  $("cc-respond").addEventListener("click", () => advance("respond"));
  $("cc-stand-down").addEventListener("click", () => advance("stand-down"));
  $("duty-scope").addEventListener("change", renderDuty);
  $("declare-communities").addEventListener("change", drawCommunities);
  $("cc-declare").addEventListener("toggle", drawCommunities);
  document.addEventListener("keydown", (e) => e.key === "Escape" && state.picking && setPicking(false));
}

/** The wall of a room (`?wall=1`): full screen, dark, the legend left of the district and
 * the figures right of it; a link back to the working page. */
function wallMode() {
  const link = $("cc-wall-link");
  if (!WALL) return;
  document.body.classList.add("wall");
  link.href = "/command";
  link.textContent = t("command.wall.leave");
}

// a wide screen lays the legend over the map's empty left (see command.css)
const LEGEND_ON_MAP = "(min-width: 1400px) and (orientation: landscape)";

/** Room for the district beside what lies over the map (px, top-left and bottom-right):
 * the wall's legend and figures, or a wide screen's legend. */
function fitPadding() {
  const w = window.innerWidth;
  if (WALL) return [[Math.round(w * 0.21) + 24, 72], [Math.round(w * 0.29) + 32, 24]];
  if (window.matchMedia(LEGEND_ON_MAP).matches) return [[document.querySelector(".cc-legend").offsetWidth + 24, 8], [8, 8]];
  return [[8, 8], [8, 8]];
}

async function start() {
  wallMode();
  state.user = await me();
  const words = await vocabulary();
  useVocabulary(words);
  $("cc-role-note").hidden = state.user.role === "commander";
  for (const el of document.querySelectorAll("[data-needs]")) gate(el, el.dataset.needs);
  wire();
  printOpen();
  await run(loadPlaces);
  fillForms();
  fillHotlineForms(words.hotline_categories);
  fillShelterForms();
  setMap(
    createMap($("cc-map"), {
      layers: [
        ["communities", t("command.layer.communities")],
        ["duty", t("command.layer.duty")],
        ["requests", t("command.layer.requests")],
        ["closures", t("command.layer.closures")],
        ["plan", t("command.layer.plan")],
        ["transfers", t("command.layer.transfers")],
        ["depots", t("command.layer.depots")],
        ["shelters", t("prep.layer.shelters")],
        ["labels", t("command.layer.labels")],
      ],
      dark: WALL,
      padding: fitPadding(),
    }),
  );
  watchLabels();
  if (WALL) setCovers([".cc-legend", ".cc-figures", ".cc-map-head", ".cc-wall-link", "#drill-banner:not([hidden])"]);
  else if (window.matchMedia(LEGEND_ON_MAP).matches) setCovers([".cc-legend"]);
  drawStreets();
  if (WALL) window.addEventListener("resize", () => cc.fit());
  cc.onClick(closeAt);
  const base = cc.loadBase().then((network) => {
    document.body.dataset.roads = network?.synthetic ? "synthetic" : "real";
    drawClosures(); // closed roads need the road lines
  });
  await run(loadIncidents);
  await Promise.all([base.catch((e) => toast(problemText(e), { bad: true })), ...["stock", "duty", "closures", "hotline", "shelters", ...INCIDENT_VIEWS].map((n) => run(LOADERS[n]))]);
  subscribe(onEvent, { onReset: () => refresh(...Object.keys(LOADERS)), onStatus: liveStatus });
  await syncDrillClock();
  setInterval(syncDrillClock, 5000);
  setInterval(showDrillClock, 1000);
  window.addEventListener("exercise-changed", syncDrillClock);
  window.addEventListener("exercise-changed", () => {
    tracks.clear(); // task ids of another world are other tasks
    fetchedTracks.clear();
  });
  setInterval(moveTransfers, 1000);
  document.body.dataset.ready = "true";
}

start();
