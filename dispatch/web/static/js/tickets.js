// How a 12345 ticket reads on any page: its codes by their Chinese (or English) names,
// the deadline that matters now, and its number shown as the identifier it is. The command
// center's board and the squad tablet's tab both draw tickets with these.
import { h } from "/static/js/dom.js";
import { fmtNumber, t } from "/static/js/i18n.js";

export const statusName = (s) => t(`hotline.status.${s}`);
export const categoryName = (c) => t(`hotline.category.${c}`);
export const urgencyName = (u) => t(`hotline.urgency.${u}`);
export const channelName = (c) => t(`hotline.channel.${c}`);
export const ratingName = (r) => t(`hotline.rating.${r}`);
export const solvedName = (yes) => t(yes ? "hotline.solved.yes" : "hotline.solved.no");

// the ticket machine's end states: nothing more is done to these
export const FINISHED = new Set(["closed", "merged"]);

/** A rate of 接诉即办 as the pages show it: one decimal, "–" while nothing counts yet. */
export const percent = (rate) => (rate == null ? "–" : `${fmtNumber(Math.round(rate * 1000) / 10)}%`);
const UNMET = new Set(["on_time", "nearly_due", "overdue"]);
const STATE_BADGE = { on_time: "ok", nearly_due: "warn", overdue: "bad", met: "ok", late: "warn" };
const URGENCY_BADGE = { critical: "bad", urgent: "warn", normal: "" };

/** The number as the 12345 platform gave it: an identifier, not prose. */
export function ticketNumber(ticket, id = null) {
  return h("code", { class: "ticket-no", id }, ticket.number);
}

export function urgencyBadge(urgency) {
  return h("span", { class: `badge ${URGENCY_BADGE[urgency] || ""}`, dataset: { urgency } }, urgencyName(urgency));
}

/** Minutes left (or past due) in words: minutes under two hours, else hours. */
function minutesText(minutes) {
  const late = minutes < 0;
  const n = Math.abs(minutes);
  if (n < 120) return t(late ? "hotline.late_min" : "hotline.left_min", { n: fmtNumber(n) });
  return t(late ? "hotline.late_h" : "hotline.left_h", { n: fmtNumber(Math.round(n / 60)) });
}

/** The deadline that matters now: the response one until the caller is contacted, then
 * the resolution one; judged by the service on its clock (a drill's: simulated time). */
export function currentDeadline(ticket) {
  const which = UNMET.has(ticket.response.state) && !FINISHED.has(ticket.status) ? "response" : "resolution";
  return { which, ...ticket[which] };
}

export function deadlineBadge(ticket) {
  const due = currentDeadline(ticket);
  const words = t("hotline.due", { which: t(`hotline.which.${due.which}`), state: t(`hotline.deadline.${due.state}`) });
  const left = due.minutes_left != null && UNMET.has(due.state) ? ` · ${minutesText(due.minutes_left)}` : "";
  return h("span", { class: `badge deadline ${STATE_BADGE[due.state] || ""}`, dataset: { deadline: due.state, which: due.which } }, words + left);
}

/** Where the ticket is: its community's (or street's) name, never a code. */
export function placeName(ticket) {
  return ticket.community_name || ticket.street_name || t("hotline.unplaced");
}
