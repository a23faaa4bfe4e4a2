// The street squad's tablet: my street's stock by depot, receipts, issues and counts, my
// tasks, and who is on duty. Works offline: the service worker serves the page and the last
// answers it saw, and every action goes through the outbox (IndexedDB), which sends it
// now or when the network returns, once, under the key it was given when recorded.
// This module wires the others: tabs, forms, the feed, the service worker and start-up.
import { ApiError, me } from "/static/js/api.js";
import { problemText, toast } from "/static/js/dom.js";
import { vocabulary } from "/static/js/vocabulary.js";
import { $, can, state, STREET_CHOICE, useVocabulary } from "/static/js/squad/state.js";
import { chooseStreet, clearStale, failed, listen, loadAll, loadStock, reloadSoon } from "/static/js/squad/loaders.js";
import { fillCountSheet, fillIssueLots, fillReceiptLots, onCount, onIssue, onNeed, onReceipt, refreshOutbox } from "/static/js/squad/actions.js";
import { loadPeople } from "/static/js/squad/panels.js";
import { loadTasks } from "/static/js/squad/tasks.js";
import { loadTickets } from "/static/js/squad/hotline.js";
import { wireScanning } from "/static/js/squad/scan.js";
import { wireCallouts } from "/static/js/squad/callouts.js";
import { wireShelters } from "/static/js/squad/shelters.js";
import { wireActivities } from "/static/js/squad/activities.js";
import * as outbox from "/static/js/outbox.js";

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
  $("hotline-reload").addEventListener("click", () => loadTickets());
  $("issue-form").addEventListener("submit", onIssue);
  $("need-form").addEventListener("submit", onNeed);
  $("need-priority").addEventListener("change", (e) => { e.target.dataset.touched = "1"; });
  $("receipt-form").addEventListener("submit", onReceipt);
  $("count-form").addEventListener("submit", onCount);
  $("issue-depot").addEventListener("change", fillIssueLots);
  $("issue-item").addEventListener("change", fillIssueLots);
  $("receipt-item").addEventListener("change", fillReceiptLots);
  $("count-depot").addEventListener("change", fillCountSheet);
  wireScanning();
  wireCallouts();
  wireShelters();
  wireActivities();
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
  useVocabulary(await vocabulary());
  outbox.setOwner(state.user.id);
  wire();
  registerWorker();
  const wanted = location.hash.slice(1);
  if (["stock", "record", "tasks", "hotline", "shelters", "people", "activities"].includes(wanted)) showTab(wanted);
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
