// The stock panel (each depot's items and lots, alerts, the street's summary against its
// standard) and the people panel (who is on duty where, pairings, tap to call).
import { api } from "/static/js/api.js";
import { clear, h, problemText, table, toast } from "/static/js/dom.js";
import { fmtDate, fmtNumber, lang, t } from "/static/js/i18n.js";
import { $, can, communityName, itemName, label, SEP, state, unitOf } from "/static/js/squad/state.js";
import { failed, read } from "/static/js/squad/loaders.js";

// --- stock -----------------------------------------------------------------------------

/** What the waiting actions will do to a depot's item once sent (issues out, receipts in). */
function pendingDelta(depot, item) {
  let delta = 0;
  for (const e of [...state.pending, ...state.justSent]) {
    if (e.state !== "waiting" || e.ref.depot !== depot) continue;
    for (const line of e.body.lines || []) {
      if (line.item !== item) continue;
      if (e.kind === "issue") delta -= line.qty;
      if (e.kind === "receipt") delta += line.qty;
    }
  }
  return delta;
}

const STATUS_BADGE = { ok: "ok", near_expiry: "warn", expired: "bad" };

export function renderStock() {
  const box = $("stock-depots");
  if (!can("stock.read") || !state.depots.length) return;
  clear(box);
  for (const depot of state.depots) {
    const lines = state.stock.filter((l) => l.depot === depot.code);
    const items = [...new Set([...lines.map((l) => l.item), ...state.alerts.filter((a) => a.depot === depot.code && a.kind === "below_standard").map((a) => a.item)])];
    items.sort((a, b) => itemName(a).localeCompare(itemName(b), lang === "zh" ? "zh-CN" : "en"));
    const rows = [];
    for (const item of items) {
      const lots = lines.filter((l) => l.item === item);
      const usable = lots.filter((l) => l.status !== "expired").reduce((sum, l) => sum + l.qty, 0);
      const below = state.alerts.find((a) => a.depot === depot.code && a.item === item && a.kind === "below_standard");
      const delta = pendingDelta(depot.code, item);
      rows.push(
        h(
          "tr",
          { class: "item-row", dataset: { depot: depot.code, item } },
          h("th", { scope: "row" }, itemName(item)),
          h(
            "td",
            {},
            h("a", { class: "card-link no-print", href: `/print/card?depot=${encodeURIComponent(depot.code)}&item=${encodeURIComponent(item)}`, "aria-label": t("squad.stock.card_label", { item: itemName(item) }) }, t("squad.stock.card")),
          ),
          h(
            "td",
            { class: "num" },
            h("span", { class: "on-hand", dataset: { qty: usable } }, fmtNumber(usable)),
            " ",
            unitOf(item),
            delta ? h("span", { class: "pending-delta badge warn" }, t("squad.stock.pending_delta", { n: delta > 0 ? `+${delta}` : delta })) : null,
          ),
          h(
            "td",
            {},
            below
              ? h("span", { class: "badge bad below" }, t("squad.stock.below", { min: fmtNumber(below.minimum) }))
              : h("span", { class: "badge ok" }, t("squad.stock.meets")),
          ),
        ),
      );
      for (const lot of lots) {
        const days = state.alerts.find((a) => a.depot === depot.code && a.lot === lot.lot && a.item === item && a.days_left != null)?.days_left;
        rows.push(
          h(
            "tr",
            { class: `lot-row ${lot.status}`, dataset: { depot: depot.code, item, lot: lot.lot } },
            // a lot's number is read off its label: shown as the code it is
            h("td", { class: "lot" }, t("squad.stock.lot"), h("code", { class: "lot-number" }, lot.lot)),
            h("td", {}, lot.expires_on ? fmtDate(lot.expires_on) : t("squad.stock.no_expiry")),
            h("td", { class: "num" }, fmtNumber(lot.qty)),
            h(
              "td",
              {},
              h("span", { class: `badge ${STATUS_BADGE[lot.status]}` }, t(`squad.lot.${lot.status}`)),
              days != null && lot.status === "near_expiry" ? ` ${t("squad.stock.days_left", { n: days })}` : "",
            ),
          ),
        );
      }
    }
    const headers = [t("squad.col.item_lot"), t("squad.col.expires"), t("squad.col.qty"), t("squad.col.marks")];
    const waiting = state.pending.filter((e) => e.state === "waiting" && e.ref.depot === depot.code);
    box.append(
      h(
        "section",
        { class: "panel depot", dataset: { depot: depot.code }, "aria-label": depot.name },
        h("h2", {}, depot.name),
        h("p", { class: "depot-tools" }, h("a", { class: "btn", href: `/print/labels?depot=${encodeURIComponent(depot.code)}` }, t("squad.stock.labels"))),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "stock-table" },
            h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: i === 2 ? "num" : null }, x)))),
            h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "note" }, t("squad.stock.empty")))),
          ),
        ),
        waiting.length
          ? h("div", { class: "depot-pending" }, h("h3", {}, t("squad.stock.pending")), h("ul", {}, waiting.map((e) => h("li", {}, e.label))))
          : null,
      ),
    );
  }
}

export function renderAlerts() {
  const box = clear($("stock-alerts"));
  const counts = { below_standard: 0, near_expiry: 0, expired: 0 };
  for (const alert of state.alerts) counts[alert.kind] += 1;
  box.append(
    h(
      "p",
      { class: "alert-counts" },
      h("span", { class: `badge ${counts.below_standard ? "bad" : "ok"}` }, t("squad.alerts.below", { n: counts.below_standard })),
      " ",
      h("span", { class: `badge ${counts.near_expiry ? "warn" : "ok"}` }, t("squad.alerts.near", { n: counts.near_expiry })),
      " ",
      h("span", { class: `badge ${counts.expired ? "bad" : "ok"}` }, t("squad.alerts.expired", { n: counts.expired })),
    ),
  );
}

export function renderSummary(summary) {
  const rows = summary
    .filter((r) => r.street === state.street)
    .map((r) => [
      itemName(r.item),
      fmtNumber(r.on_hand),
      fmtNumber(r.standard),
      r.gap > 0 ? h("span", { class: "badge bad" }, fmtNumber(r.gap)) : "0",
      r.percent == null ? "" : `${Math.round(r.percent)}%`,
    ]);
  clear($("stock-summary")).append(
    table([t("squad.col.item"), t("squad.col.on_hand"), t("squad.col.standard"), t("squad.col.gap"), t("squad.col.percent")], rows, { numeric: [1, 2, 3, 4] }),
  );
}

// --- people on duty and pairings ---------------------------------------------------------

export async function loadPeople() {
  try {
    const query = `street=${state.street}`;
    const duty = await read(`/api/duty/on-duty?${query}`);
    const rows = duty
      .filter((c) => !state.community || c.community === state.community)
      .map((c) => [
        c.name,
        fmtNumber(c.on_duty),
        Object.entries(c.skills).map(([k, n]) => `${label("squad.skill", k)} ${n}`).join(SEP),
        can("people.read") && c.on_duty
          ? h("button", { type: "button", class: "btn btn-small", "aria-label": t("squad.duty.show_in", { name: c.name }), onclick: () => showOnDuty(c.community, { reveal: true }) }, t("squad.duty.show"))
          : "",
      ]);
    clear($("duty-communities")).append(table([t("squad.col.community"), t("squad.col.on_duty"), t("squad.col.skills"), ""], rows, { numeric: [1] }));
  } catch (error) {
    failed($("duty-communities"), error);
  }
  if (state.dutyCommunity) showOnDuty(state.dutyCommunity);
  if (!can("pairings.read")) return;
  try {
    // a community's own roles may read its pairings only, not its street's
    const scope = state.community ? `community=${state.community}` : `street=${state.street}`;
    const pairings = await read(`/api/pairings?${scope}`);
    const rows = pairings
      .filter((p) => !state.community || p.community === state.community)
      .map((p) => [
        p.unit_name,
        label("squad.unit", p.unit_kind),
        p.community_name,
        fmtNumber(p.pledged_people),
        fmtDate(p.valid_until),
        h("span", { class: `badge ${p.counts ? "ok" : "bad"}` }, label("squad.pairing", p.effective_status)),
      ]);
    clear($("pairings")).append(
      table([t("squad.col.unit"), t("squad.col.unit_kind"), t("squad.col.community"), t("squad.col.pledged"), t("squad.col.valid_until"), t("squad.col.status")], rows, { numeric: [3] }),
    );
  } catch (error) {
    failed($("pairings"), error);
  }
}

async function showOnDuty(community, { reveal = false } = {}) {
  state.dutyCommunity = community;
  $("duty-people-title").textContent = t("squad.duty.people_in", { name: communityName(community) });
  const box = $("duty-people");
  try {
    const [people, records] = await Promise.all([
      read(`/api/duty/on-duty/${community}/people`),
      read(`/api/people?community=${community}&on_duty=true&limit=200`),
    ]);
    const phones = new Map(records.map((p) => [p.id, p.phone]));
    const rows = people.map((p) => [
      p.name,
      label("squad.person", p.kind),
      p.skills.map((k) => label("squad.skill", k)).join(SEP),
      t("squad.duty.hours", { n: p.hours_today.toFixed(1) }),
      h("span", { class: "phone" }, phones.get(p.person_id) || t("squad.duty.no_phone")),
      can("people.reveal") && phones.get(p.person_id) ? callButton(p) : "",
    ]);
    clear(box).append(
      table([t("squad.col.name"), t("squad.col.kind"), t("squad.col.skills"), t("squad.col.hours"), t("squad.col.phone"), ""], rows),
    );
    if (reveal) $("duty-people-title").scrollIntoView({ block: "start" }); // below the list on a tablet
  } catch (error) {
    failed(box, error);
  }
}

/** Tap to call: the whole number is asked for (and audited) only when the call is wanted,
 * and only then becomes a tel: link; it is never written on screen. */
export function callButton(person) {
  const button = h("button", { type: "button", class: "btn btn-small call", "aria-label": t("squad.duty.call_label", { name: person.name }) }, t("squad.duty.call"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const revealed = await api(`/api/people/${person.person_id}/reveal`, { method: "POST" });
      const link = h("a", { class: "btn btn-primary btn-small tel", href: `tel:${revealed.phone}`, "aria-label": t("squad.duty.call_now_label", { name: person.name }) }, t("squad.duty.call_now"));
      button.replaceWith(link);
      link.focus();
    } catch (error) {
      button.disabled = false;
      toast(error instanceof TypeError ? t("squad.duty.call_offline") : problemText(error), { bad: true });
    }
  });
  return button;
}
