// The page's message table (embedded by the server in the page's language) and formatting.
const table = JSON.parse(document.getElementById("i18n")?.textContent || "{}");

export const lang = document.body.dataset.lang || "zh";

/** The message for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = table[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

const timeFormat = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", {
  timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
});
const dateFormat = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
});

/** The page language's half of a bilingual text "中文 · English" (zh first, en second);
 * a text without the separator is shown whole. */
export function localText(text) {
  const parts = String(text ?? "").split(" · ");
  if (parts.length < 2) return parts[0];
  return lang === "zh" ? parts[0] : parts.slice(1).join(" · ");
}

/** A time as Beijing time, whatever the tablet's zone. */
export function fmtTime(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function fmtDate(iso) {
  return iso ? dateFormat.format(new Date(iso.length === 10 ? iso + "T00:00:00+08:00" : iso)) : "";
}

export function fmtNumber(value) {
  return value == null ? "" : Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB");
}
