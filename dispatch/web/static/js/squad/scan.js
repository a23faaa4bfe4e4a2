// Scanning lot labels (批次标签) on the tablet: a photo taken with the tablet's camera (the
// file input opens it directly) is decoded by the browser's BarcodeDetector where there is
// one, else by jsQR (vendored in /static/vendor/jsqr, kept by the service worker so it
// works offline). A label holds `DSLOT1|depot|item|lot|expiry` (see dispatch/stock/labels.py)
// and picks the depot, item and lot of the issue, receipt or count form it was taken for.
import { toast } from "/static/js/dom.js";
import { t } from "/static/js/i18n.js";
import { $, depotName, itemName, state } from "/static/js/squad/state.js";
import { fillCountSheet, fillIssueLots, fillReceiptLots } from "/static/js/squad/actions.js";

const PREFIX = "DSLOT1";
const JSQR = "/static/vendor/jsqr/jsQR.js";

/** A label's text as {depot, item, lot, expires_on}; null when it is no lot label. */
export function parseLabel(text) {
  const parts = String(text).trim().split("|");
  if (parts.length !== 5 || parts[0] !== PREFIX) return null;
  try {
    const [depot, item, lot, expiry] = parts.slice(1).map(decodeURIComponent);
    return { depot, item, lot, expires_on: expiry === "-" ? null : expiry };
  } catch {
    return null; // a malformed escape: not one of ours
  }
}

let loadingJsQR = null;

function jsQR() {
  loadingJsQR ||= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = JSQR;
    script.onload = () => resolve(window.jsQR);
    script.onerror = () => {
      loadingJsQR = null;
      reject(new Error("jsQR"));
    };
    document.head.append(script);
  });
  return loadingJsQR;
}

/** The text of the first QR code in an image file, or null. */
export async function decodeImage(file) {
  const bitmap = await createImageBitmap(file);
  if ("BarcodeDetector" in window) {
    try {
      const found = await new window.BarcodeDetector({ formats: ["qr_code"] }).detect(bitmap);
      if (found.length) return found[0].rawValue;
    } catch {
      // a detector without QR support: fall through to jsQR
    }
  }
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height)); // a camera photo is large
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const pixels = g.getImageData(0, 0, canvas.width, canvas.height);
  const decode = await jsQR();
  return decode(pixels.data, pixels.width, pixels.height)?.data ?? null;
}

const choose = (select, value) => {
  if (![...select.options].some((o) => o.value === value)) return false;
  select.value = value;
  return true;
};

/** Put a scanned label into one of the three forms; the message to show the user. */
function apply(form, label) {
  const names = { depot: depotName(label.depot), item: itemName(label.item), lot: label.lot };
  if (form === "receipt") {
    if (!choose($("receipt-depot"), label.depot)) return [t("squad.scan.unknown_depot"), true];
    choose($("receipt-item"), label.item);
    fillReceiptLots();
    $("receipt-lot").value = label.lot;
    if (label.expires_on) $("receipt-expires").value = label.expires_on;
    $("receipt-qty").focus();
    return [t("squad.scan.picked", names), false];
  }
  const depotSelect = $(`${form}-depot`);
  if (!choose(depotSelect, label.depot)) return [t("squad.scan.unknown_depot"), true];
  const held = state.stock.some((l) => l.depot === label.depot && l.item === label.item && l.lot === label.lot);
  if (!held) return [t("squad.scan.unknown_lot", names), true];
  if (form === "issue") {
    choose($("issue-item"), label.item);
    fillIssueLots();
    choose($("issue-lot"), label.lot);
    $("issue-qty").focus();
    return [t("squad.scan.picked", names), false];
  }
  fillCountSheet();
  const row = [...document.querySelectorAll("#count-sheet .count-input")].find((i) => i.dataset.item === label.item && i.dataset.lot === label.lot);
  row?.closest("tr")?.classList.add("scanned");
  row?.focus();
  return [t("squad.scan.counted", names), false];
}

async function onPhoto(form, input) {
  const file = input.files?.[0];
  if (!file) return;
  let text = null;
  try {
    text = await decodeImage(file);
  } catch {
    text = null;
  } finally {
    input.value = ""; // the same label may be scanned again
  }
  const label = text == null ? null : parseLabel(text);
  const [message, bad] = text == null ? [t("squad.scan.none"), true] : label ? apply(form, label) : [t("squad.scan.not_label"), true];
  const status = $(`${form}-scan-status`);
  status.textContent = message;
  status.classList.toggle("error", bad);
  toast(message, { bad });
}

/** Wire each form's 扫码 button to its camera input. */
export function wireScanning() {
  for (const form of ["issue", "receipt", "count"]) {
    const input = $(`${form}-scan`);
    $(`${form}-scan-button`).addEventListener("click", () => input.click());
    input.addEventListener("change", () => onPhoto(form, input));
  }
}
