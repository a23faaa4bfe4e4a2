// Downloading an export: the API needs the token, so a file is fetched and saved as a Blob,
// not opened as a plain link. A refusal is shown in the box given, in the page's language.
import { api, ApiError } from "/static/js/api.js";
import { h, problemText, toast } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";

function filenameOf(response, fallback) {
  const header = response.headers.get("content-disposition") || "";
  const found = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return found ? decodeURIComponent(found[1]) : fallback;
}

/** Fetch `path` and save it as a file (named as the service says, else `fallback`). */
export async function download(path, fallback, box) {
  box.hidden = true;
  try {
    const response = await api(path, { raw: true });
    if (!response.ok) {
      let problem = {};
      try {
        problem = await response.json();
      } catch {
        /* not problem+json */
      }
      throw new ApiError(response.status, problem); // its code: shown in the page's language
    }
    const blob = await response.blob();
    const name = filenameOf(response, fallback);
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    toast(t("admin.exp.downloaded", { name }));
  } catch (error) {
    box.textContent = problemText(error);
    box.hidden = false;
  }
}
