// What a delivery card tells the crew besides the cargo: where it goes (the community's
// committee, 居委会), how far and when it should arrive, the route as a small sketch (the
// district has no tile server: a line is what there is to draw), and who receives it
// there: the community's workers on duty, their phones masked, "拨打" revealing one number
// (audited) for the roles that may, as on the people tab.
import { h } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { can, label, state } from "/static/js/squad/state.js";
import { read } from "/static/js/squad/loaders.js";
import { callButton } from "/static/js/squad/panels.js";

const SVG = "http://www.w3.org/2000/svg";
const contacts = new Map(); // community -> people on duty there, once asked for

/** Where and when: the committee's name, the distance and the arrival (or the drive). */
export function deliveryFacts(task) {
  const route = task.route;
  const place = state.communities.get(task.community)?.official_name;
  const facts = place ? [t("squad.delivery.to", { place })] : [];
  if (!route) return facts;
  facts.push(t("squad.delivery.distance", { km: fmtNumber(Math.round(route.length_m / 100) / 10) }));
  const minutes = Math.max(1, Math.round(route.time_s / 60));
  if (task.en_route_at) {
    const eta = new Date(new Date(task.en_route_at).getTime() + route.time_s * 1000);
    facts.push(t("squad.delivery.eta", { time: fmtTime(eta.toISOString()), n: minutes }));
  } else {
    facts.push(t("squad.delivery.drive", { n: minutes }));
  }
  return facts;
}

/** The route's line from the depot (hollow) to the community (filled), north up. */
export function routeSketch(route) {
  const points = route?.coordinates || [];
  if (points.length < 2) return null;
  const lat0 = (points.reduce((s, p) => s + p[1], 0) / points.length) * (Math.PI / 180);
  const xy = points.map(([lon, lat]) => [lon * Math.cos(lat0), -lat]);
  const xs = xy.map((p) => p[0]);
  const ys = xy.map((p) => p[1]);
  const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
  const span = Math.max(Math.max(...xs) - x0, Math.max(...ys) - y0, 1e-6);
  const scale = 180 / span;
  const at = ([x, y]) => [10 + (x - x0) * scale, 10 + (y - y0) * scale];
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 200 200");
  svg.setAttribute("class", "route-sketch");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("squad.delivery.route"));
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", xy.map((p) => at(p).map((v) => v.toFixed(1)).join(",")).join(" "));
  svg.append(line);
  for (const [p, cls] of [[xy[0], "from"], [xy[xy.length - 1], "to"]]) {
    const dot = document.createElementNS(SVG, "circle");
    const [cx, cy] = at(p);
    Object.entries({ cx, cy, r: 7, class: cls }).forEach(([k, v]) => dot.setAttribute(k, String(v)));
    svg.append(dot);
  }
  return svg;
}

async function loadContacts(community, redraw) {
  const [people, records] = await Promise.all([
    read(`/api/duty/on-duty/${community}/people`),
    read(`/api/people?community=${community}&on_duty=true&limit=200`),
  ]);
  const phones = new Map(records.map((p) => [p.id, p.phone]));
  const workers = people.filter((p) => p.kind === "community_worker");
  contacts.set(community, (workers.length ? workers : people).map((p) => ({ ...p, phone: phones.get(p.person_id) })));
  redraw();
}

/** The receiving contact: asked for on a tap (people's data is read only when wanted). */
export function receiver(task, redraw) {
  if (!can("people.read")) return null;
  const known = contacts.get(task.community);
  if (!known) {
    const ask = h("button", { type: "button", class: "btn btn-small", dataset: { contacts: task.community } }, t("squad.delivery.contact"));
    ask.addEventListener("click", () => {
      ask.disabled = true;
      loadContacts(task.community, redraw).catch(() => {
        ask.disabled = false;
        ask.textContent = t("squad.delivery.contact_failed");
      });
    });
    return h("div", { class: "receiver" }, ask);
  }
  if (!known.length) return h("p", { class: "receiver note" }, t("squad.delivery.no_contact"));
  return h(
    "ul",
    { class: "receiver" },
    ...known.map((p) =>
      h(
        "li",
        {},
        `${t("squad.delivery.receiver")}：${p.name}（${label("squad.person", p.kind)}） `,
        h("span", { class: "phone" }, p.phone || t("squad.duty.no_phone")),
        " ",
        can("people.reveal") && p.phone ? callButton(p) : "",
      ),
    ),
  );
}
