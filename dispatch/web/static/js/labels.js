// Lot labels (批次标签) of one depot, to print and stick on the goods: the item's name,
// the lot number, its expiry and a QR code the squad tablet scans to pick the lot.
// Drawn from GET /api/stock/labels?depot=, which reads in the caller's scope as the stock
// does; the QR codes come drawn by the service (inline SVG), so printing needs no library.
import { api, me } from "/static/js/api.js";
import { clear, h, problemText } from "/static/js/dom.js";
import { fmtDate, fmtNumber, lang, t } from "/static/js/i18n.js";

const $ = (id) => document.getElementById(id);

/** The QR code's SVG as a node; drawn by the service from the label's own text (inline
 * SVG without a namespace: parsed as HTML, which puts <svg> in the SVG namespace). */
function qr(svg) {
  const doc = new DOMParser().parseFromString(svg, "text/html");
  const node = document.importNode(doc.body.firstElementChild, true);
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", t("labels.title"));
  return node;
}

function card(label, names) {
  const item = names.get(label.item);
  const itemName = item ? (lang === "zh" ? item.name_zh : item.name_en) : label.item;
  return h(
    "section",
    { class: "lot-label", dataset: { item: label.item, lot: label.lot } },
    qr(label.svg),
    h("div", { class: "label-item" }, itemName),
    h("div", {}, `${t("labels.lot")} `, h("code", { class: "label-lot" }, label.lot)),
    h("div", {}, `${t("labels.expires")} ${label.expires_on ? fmtDate(label.expires_on) : t("labels.no_expiry")}`),
    h("div", { class: "note" }, `${t("labels.qty")} ${fmtNumber(label.qty)}`),
  );
}

async function start() {
  $("print").addEventListener("click", () => window.print());
  await me();
  const depot = new URLSearchParams(location.search).get("depot");
  if (!depot) {
    $("labels-status").textContent = t("labels.no_depot");
    return;
  }
  try {
    const [labels, items, depots] = await Promise.all([
      api(`/api/stock/labels?depot=${encodeURIComponent(depot)}`),
      api("/api/stock/items"),
      api("/api/depots"),
    ]);
    const name = depots.find((d) => d.code === depot)?.name || depot;
    const names = new Map(items.map((i) => [i.code, i]));
    $("labels-heading").textContent = t("labels.heading", { depot: name });
    document.title = `${t("labels.heading", { depot: name })} · ${t("app.short")}`;
    clear($("labels")).append(...labels.map((label) => card(label, names)));
    $("labels-status").textContent = labels.length ? "" : t("labels.none");
  } catch (error) {
    $("labels-status").textContent = problemText(error);
  }
}

start();
