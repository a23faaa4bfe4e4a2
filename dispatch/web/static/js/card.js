// The stock card (库存台账) of one item at one depot, to print and file: every movement in
// order with its lot and expiry, in and out, the running balance, to whom or why, who
// did it, and the keeper's and checker's signature lines. Drawn from GET /api/stock/card,
// which reads in the caller's scope as the stock does.
import { api, me } from "/static/js/api.js";
import { clear, h, problemText } from "/static/js/dom.js";
import { fmtDate, fmtNumber, fmtTime, lang, t } from "/static/js/i18n.js";

const $ = (id) => document.getElementById(id);

const label = (key, fallback) => {
  const text = t(key);
  return text === key ? fallback : text;
};

function party(row, communities) {
  if (row.community) return communities.get(row.community)?.name || row.community;
  if (row.reason) return label(`card.reason.${row.reason}`, row.reason);
  if (row.transfer) return t("card.transfer", { id: row.transfer });
  if (row.reverses) return t("card.reverses", { id: row.reverses });
  return row.note || "";
}

function ledger(card, communities) {
  const cell = (text, numeric = false) => h("td", numeric ? { class: "num" } : {}, text);
  const rows = card.rows.map((r) =>
    h(
      "tr",
      {},
      cell(fmtTime(r.at)),
      cell(label(`card.kind.${r.kind}`, r.kind)),
      h("td", {}, h("code", {}, r.lot)),
      cell(r.expires_on ? fmtDate(r.expires_on) : ""),
      cell(r.qty > 0 ? fmtNumber(r.qty) : "", true),
      cell(r.qty < 0 ? fmtNumber(-r.qty) : "", true),
      cell(fmtNumber(r.balance), true),
      cell(party(r, communities)),
      cell(r.actor),
    ),
  );
  const heads = ["at", "kind", "lot", "expires", "in", "out", "balance", "party", "actor"];
  return h(
    "table",
    { id: "card-table" },
    h("thead", {}, h("tr", {}, ...heads.map((k, i) => h("th", [4, 5, 6].includes(i) ? { class: "num" } : {}, t(`card.col.${k}`))))),
    h("tbody", {}, ...rows),
  );
}

async function start() {
  $("print").addEventListener("click", () => window.print());
  await me();
  const query = new URLSearchParams(location.search);
  const [depot, item] = [query.get("depot"), query.get("item")];
  if (!depot || !item) {
    $("card-status").textContent = t("card.no_target");
    return;
  }
  try {
    const [card, items, depots, communities] = await Promise.all([
      api(`/api/stock/card?depot=${encodeURIComponent(depot)}&item=${encodeURIComponent(item)}`),
      api("/api/stock/items"),
      api("/api/depots"),
      api("/api/communities"),
    ]);
    const thing = items.find((i) => i.code === item);
    const itemName = thing ? (lang === "zh" ? thing.name_zh : thing.name_en) : item;
    const unit = thing ? label(`squad.measure.${thing.unit}`, thing.unit) : "";
    const depotName = depots.find((d) => d.code === depot)?.name || depot;
    const heading = t("card.heading", { depot: depotName, item: itemName });
    const places = new Map(communities.map((c) => [c.code, c]));
    clear($("card")).append(
      h("h1", {}, heading),
      h("p", {}, t("card.balance", { n: fmtNumber(card.balance), unit })),
      card.rows.length ? ledger(card, places) : h("p", { class: "note" }, t("card.empty")),
      h("div", { class: "signatures" }, h("div", { class: "signature" }, t("card.sign")), h("div", { class: "signature" }, t("card.checked"))),
    );
    document.title = `${heading} · ${t("app.short")}`;
    $("card-status").textContent = "";
  } catch (error) {
    $("card-status").textContent = problemText(error);
  }
}

start();
