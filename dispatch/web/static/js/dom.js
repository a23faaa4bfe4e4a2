// Small DOM helpers: elements are built, never assembled from HTML strings, so names and
// notes typed by users can never inject markup.
import { t } from "/static/js/i18n.js";

/** h("td", {class: "num"}, 12) — attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A table with a header row; `rows` are arrays of cells (text or nodes). */
export function table(headers, rows, { caption, numeric = [] } = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "note" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((head, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, head)))),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((row) => h("tr", {}, row.map((cell, i) => h("td", { class: numeric.includes(i) ? "num" : null }, cell))))
          : h("tr", {}, h("td", { colspan: headers.length, class: "note" }, t("common.none"))),
      ),
    ),
  );
}

let toastTimer = null;

/** A short message at the bottom of the screen; `bad` for refusals. */
export function toast(message, { bad = false, ms = 4000 } = {}) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.toggle("bad", bad);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, ms);
}

// Codes that name only the kind of refusal: their message is followed by the service's
// English detail until the refusal has a code of its own.
const GENERIC = new Set([
  "bad_request", "invalid_input", "invalid_request", "forbidden", "not_found", "conflict",
  "http.404", "http.405",
]);

/**
 * A refusal's sentence in the page's language: the service's `code` with its `params` from
 * the message table (errors.yaml), else its `detail`; a generic code keeps the detail after it.
 */
export function codedText(problem = {}, detail = "") {
  const key = problem.code && `error.${problem.code}`;
  const params = localParams(problem.params || {}, problem.code || "");
  const known = key && t(key, params) !== key;
  let text = known ? t(key, params) : detail || t("common.error");
  if (known && GENERIC.has(problem.code) && detail) text += ` · ${detail}`;
  return text;
}

/** Params the service sends as codes, named in the page's language: a role, an action
 * (`hotline.assign`), and a status or step of the code's own machine (`hotline.status.*`). */
function localParams(params, code) {
  const out = { ...params };
  const named = (key, value) => (t(key) !== key ? t(key) : value);
  const area = code.split(".")[0];
  if (typeof out.role === "string") out.role = named(`role.${out.role}`, out.role);
  if (typeof out.action === "string") out.action = named(`action.${out.action}`, out.action);
  for (const name of ["status", "step"]) {
    if (typeof out[name] === "string") out[name] = named(`${area}.${name}.${out[name]}`, out[name]);
  }
  return out;
}

/** The message to show for a refused or failed request, with the field it names, if any. */
export function problemText(error) {
  let text = codedText(error?.problem || {}, error?.message);
  if (error?.field) text += ` (${t("error.field", { field: error.field })})`;
  return text;
}

/** Show a refusal under a form and mark (and focus) the input the service named. */
export function showRefusal(form, box, error) {
  box.textContent = problemText(error);
  box.hidden = false;
  form?.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const name = error?.field && String(error.field).split(/[.[]/)[0];
  const field = name && form?.elements.namedItem(name);
  if (field && field.setAttribute) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

/** The form was accepted: its refusal and marks go. */
export function clearRefusal(form, box) {
  box.hidden = true;
  form?.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}
