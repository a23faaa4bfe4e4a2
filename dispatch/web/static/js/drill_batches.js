// Batch comparisons on the drill page: a trainer starts N paired, seeded replays of a
// scenario under both planning policies; the server runs them in the background, this
// panel follows their progress and shows, per figure, each policy's mean with its 95 %
// interval and the paired difference with its interval and sign test.
import { api } from "/static/js/api.js";
import { clear, clearRefusal, h, problemText, showRefusal, table, toast } from "/static/js/dom.js";
import { fmtNumber, fmtTime, localText, t } from "/static/js/i18n.js";

const REAL = { exercise: false }; // batches run in sandboxes of their own, never the drill's
const URL = "/api/exercise-batches";
// the figures a trainer compares first; the report page has them all
const SHOWN = ["fill_rate", "delivery_minutes.mean", "delivery_minutes.p90", "first_delivery_minutes", "unmet", "people_hours"];
const $ = (id) => document.getElementById(id);
let timer = null;

/** Show the panel with the playable scenarios, and the latest batches. */
export async function startBatches(scenarios) {
  const select = clear($("batch-scenario"));
  for (const s of scenarios) select.append(h("option", { value: s.name }, localText(s.title)));
  $("batch-submit").disabled = !scenarios.length;
  $("batch-form").addEventListener("submit", submit);
  $("batch-panel").hidden = false;
  await refresh();
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("batch-error");
  const body = {
    scenario: form.elements.scenario.value,
    runs: Number(form.elements.runs.value),
    seed: Number(form.elements.seed.value),
    jobs: Number(form.elements.jobs.value),
  };
  try {
    const batch = await api(URL, { ...REAL, method: "POST", body });
    clearRefusal(form, box);
    toast(t("drill.batch_started", { id: batch.id }));
    await refresh();
  } catch (error) {
    showRefusal(form, box, error);
  }
}

async function stop(batch) {
  try {
    await api(`${URL}/${batch.id}`, { ...REAL, method: "DELETE" });
    toast(t("drill.batch_stopping"));
    await refresh();
  } catch (error) {
    toast(problemText(error), { bad: true });
  }
}

async function refresh() {
  clearTimeout(timer);
  let batches;
  try {
    batches = await api(URL, REAL);
  } catch (error) {
    clear($("batches")).append(h("p", { class: "error" }, problemText(error)));
    return;
  }
  renderList(batches);
  const done = batches.find((b) => b.status === "done");
  const figures = clear($("batch-figures"));
  if (done) figures.append(renderFigures(done));
  if (batches.some((b) => b.status === "running")) timer = setTimeout(refresh, 1500);
}

const policyName = (p) => t(`drill.policy.${p}`);

function renderList(batches) {
  const box = clear($("batches"));
  if (!batches.length) {
    box.append(h("p", { class: "note" }, t("drill.batch_none")));
    return;
  }
  const badge = { running: "warn", done: "ok", failed: "bad", stopped: "" };
  const rows = batches.map((b) => [
    `#${b.id}`,
    localText(b.title),
    b.policies.map(policyName).join(" / "),
    h(
      "span",
      { class: "batch-progress" },
      h("progress", { max: String(b.total), value: String(b.done), "aria-label": `#${b.id} ${t("drill.batch_col.progress")}` }),
      " ",
      t("drill.batch_done_of", { done: b.done, total: b.total }),
    ),
    h("span", { class: `badge ${badge[b.status]}`, id: `batch-status-${b.id}` }, t(`drill.batch_status.${b.status}`)),
    fmtTime(b.created_at),
    actions(b),
  ]);
  const head = [t("drill.col.id"), t("drill.batch_col.scenario"), t("drill.policy"), t("drill.batch_col.progress"), t("drill.col.status"), t("drill.col.created"), t("drill.col.actions")];
  box.append(table(head, rows));
  for (const b of batches.filter((x) => x.error && x.status === "failed").slice(0, 1)) {
    box.append(h("p", { class: "error" }, `#${b.id}: ${b.error}`));
  }
}

function actions(batch) {
  if (batch.status === "running" && !batch.stop_requested) {
    return h("button", { type: "button", class: "btn btn-danger", "aria-label": `${t("drill.batch_stop")} #${batch.id}`, onclick: () => stop(batch) }, t("drill.batch_stop"));
  }
  if (batch.status === "done") {
    return h("a", { class: "btn", href: `${URL}/${batch.id}/report`, target: "_blank", rel: "noopener" }, t("drill.batch_report"));
  }
  return "";
}

function interval(entry) {
  if (!entry || entry.mean == null) return "–";
  const n = (x) => (x == null ? "–" : fmtNumber(Math.round(x * 1000) / 1000));
  return `${n(entry.mean)} [${n(entry.low)}, ${n(entry.high)}]`;
}

function renderFigures(batch) {
  const { policies, figures, runs } = batch.summary;
  const paired = policies.length === 2;
  const head = [t("drill.batch_col.figure"), ...policies.map((p) => t("drill.batch_col.policy", { policy: policyName(p) }))];
  if (paired) {
    head.push(t("drill.batch_col.difference", { a: policyName(policies[0]), b: policyName(policies[1]) }), t("drill.batch_col.p"));
  }
  const rows = SHOWN.filter((name) => figures[name] && policies.some((p) => figures[name][p].n)).map((name) => {
    const entry = figures[name];
    const row = [t(`drill.batch_fig.${name}`), ...policies.map((p) => interval(entry[p]))];
    if (paired) {
      const p = entry.difference.p_value;
      row.push(interval(entry.difference.difference), p == null ? "–" : fmtNumber(Math.round(p * 1000) / 1000));
    }
    return row;
  });
  return h(
    "div",
    { id: `batch-figures-${batch.id}` },
    h("h3", {}, t("drill.batch_figures", { id: batch.id, title: localText(batch.title), runs })),
    table(head, rows),
  );
}
