// The administration's service-hours tab: the hours people gave per street in a chosen
// period — from tasks done, assistance visits and community activities attended — as an
// inline SVG bar chart (no library) and a table, and the report as CSV or XLSX, grouped as
// chosen (the service's own export, /api/branches/reports/{csv,xlsx}).
import { api } from "/static/js/api.js";
import { clear, h, problemText, table } from "/static/js/dom.js";
import { download } from "/static/js/download.js";
import { fmtNumber, t } from "/static/js/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const PARTS = ["task_hours", "visit_hours", "activity_hours"]; // one colour each, stacked
const service = { streets: null, own: null, generation: 0 };

/** An SVG element (h() makes HTML ones). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

const isoDay = (date) => date.toLocaleDateString("en-CA", { timeZone: "Asia/Shanghai" }); // YYYY-MM-DD

function period() {
  return { date_from: $("sv-from").value, date_to: $("sv-to").value };
}

function query(extra = {}) {
  return new URLSearchParams({ ...period(), ...extra }).toString();
}

export function wireService() {
  $("service-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadService();
  });
  for (const fmt of ["csv", "xlsx"]) {
    $(`sv-${fmt}`).addEventListener("click", () => {
      const by = $("sv-by").value;
      download(`/api/branches/reports/${fmt}?${query({ by })}`, `service-${by}.${fmt}`, $("service-error"));
    });
  }
}

/** First shown; `me`: a street leader's report is their own street's (the service scopes it). */
export async function initService({ me } = {}) {
  service.own = me?.street || null;
  if (!$("sv-to").value) {
    const today = new Date();
    $("sv-to").value = isoDay(today);
    $("sv-from").value = isoDay(new Date(today.getTime() - 29 * 86400_000)); // the last 30 days
  }
  await loadService();
}

async function loadService() {
  const generation = ++service.generation;
  const box = $("service-chart");
  $("service-error").hidden = true;
  try {
    service.streets ??= (await api("/api/streets")).filter((st) => !service.own || st.code === service.own);
    const report = await api(`/api/branches/reports?${query({ by: "street" })}`);
    if (generation !== service.generation) return; // a newer period was asked meanwhile
    const found = new Map(report.rows.map((r) => [r.key, r]));
    const rows = service.streets.map((st) => found.get(st.code) || { key: st.code, name: st.name, people: 0, hours: 0, task_hours: 0, visit_hours: 0, activity_hours: 0, duty_hours: 0, activities: 0 });
    rows.sort((a, b) => b.hours - a.hours || a.name.localeCompare(b.name, "zh-CN"));
    clear(box).append(chart(rows, report), legend());
    clear($("service-table")).append(figures(rows, report.total));
  } catch (error) {
    $("service-error").textContent = problemText(error);
    $("service-error").hidden = false;
  }
}

/** Horizontal bars, one per street, each stacked tasks | visits | activities. */
function chart(rows, report) {
  const bar = 26;
  const gap = 8;
  const left = 130;
  const width = 760;
  const right = 90;
  const most = Math.max(1, ...rows.map((r) => r.hours));
  const scale = (width - left - right) / most;
  const height = rows.length * (bar + gap) + gap;
  const title = t("admin.service.chart_title", { from: report.date_from, to: report.date_to });
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "service-chart", role: "img", "aria-labelledby": "service-chart-title" }, s("title", { id: "service-chart-title" }, title));
  rows.forEach((row, i) => {
    const y = gap + i * (bar + gap);
    const group = s("g", { class: "street-bar", "data-street": row.key, "data-hours": row.hours });
    group.append(s("text", { x: left - 8, y: y + bar / 2, "text-anchor": "end", "dominant-baseline": "middle", class: "label" }, row.name));
    let x = left;
    for (const part of PARTS) {
      const w = row[part] * scale;
      if (w > 0) group.append(s("rect", { x, y, width: w, height: bar, class: `part ${part}` }, s("title", {}, `${row.name} ${t(`admin.service.${part}`)} ${fmtNumber(row[part])}`)));
      x += w;
    }
    group.append(s("text", { x: x + 6, y: y + bar / 2, "dominant-baseline": "middle", class: "value" }, t("admin.service.hours_value", { n: fmtNumber(row.hours) })));
    svg.append(group);
  });
  return svg;
}

function legend() {
  return h("p", { class: "service-legend" }, PARTS.map((part) => h("span", { class: `key ${part}` }, h("span", { class: "swatch", "aria-hidden": "true" }), t(`admin.service.${part}`))));
}

function figures(rows, total) {
  const cells = (r) => [fmtNumber(r.people), fmtNumber(r.hours), fmtNumber(r.task_hours), fmtNumber(r.visit_hours), fmtNumber(r.activity_hours), fmtNumber(r.duty_hours), fmtNumber(r.activities)];
  const headers = ["street", "people", "hours", "task_hours", "visit_hours", "activity_hours", "duty_hours", "activities"].map((c) => t(`admin.service.col.${c}`));
  const numeric = [1, 2, 3, 4, 5, 6, 7];
  return table(headers, [...rows.map((r) => [r.name, ...cells(r)]), [h("strong", {}, t("admin.service.total")), ...cells(total)]], { numeric });
}
