// Shelter intake on the tablet (安置点登记): the street's shelters with their room, and a
// household registered at one — how many people, what they need, and which care household
// it is, when it is one (a community worker sees their community's; they go first). The
// intake goes through the outbox like every action here; a full shelter's refusal names
// the nearest open shelter with room, as the service answers it, with one tap to register
// the household there instead. The register shows household codes, never names or phones.
import { api } from "/static/js/api.js";
import { clear, codedText, h, table } from "/static/js/dom.js";
import { fmtNumber, fmtTime, t } from "/static/js/i18n.js";
import { $, can, communityName, state } from "/static/js/squad/state.js";
import { act, formError, options, wholeNumber } from "/static/js/squad/actions.js";
import * as outbox from "/static/js/outbox.js";

const FIRST = ["open", "full", "ready", "closed"];
const QUICK_NEEDS = ["elderly", "mobility", "infant", "medication", "pregnant"];
const shelters = { list: [], byId: new Map(), households: null, loaded: false, timer: null };

const SEP = () => t("prep.sep");
const roomText = (s) => `${t(`shelter.status.${s.status}`)} · ${t("prep.shelter.occupancy_of", { occupancy: fmtNumber(s.occupancy), capacity: fmtNumber(s.capacity) })} · ${t("prep.shelter.room_n", { n: fmtNumber(s.room) })}`;

export async function loadShelters() {
  if (!can("shelters.intake")) {
    $("tab-shelters").hidden = true;
    return;
  }
  $("tab-shelters").hidden = false;
  try {
    const list = await api(`/api/shelters?street=${state.street}`);
    const own = state.community ? list.filter((s) => s.community === state.community) : list;
    shelters.list = own.sort((a, b) => FIRST.indexOf(a.status) - FIRST.indexOf(b.status) || a.name.localeCompare(b.name));
    shelters.byId = new Map(list.map((s) => [s.id, s]));
    shelters.loaded = true;
    fillShelters();
    await loadRegister();
  } catch (error) {
    clear($("shelter-list")).append(h("p", { class: "error" }, error instanceof TypeError ? t("squad.offline_no_copy") : codedText(error.problem || {}, error.message)));
  }
}

export function loadSheltersSoon() {
  clearTimeout(shelters.timer);
  shelters.timer = setTimeout(loadShelters, 200);
}

function fillShelters() {
  const select = $("intake-shelter");
  options(select, shelters.list.map((s) => [String(s.id), `${s.name} · ${t(`shelter.status.${s.status}`)} · ${t("prep.shelter.room_n", { n: fmtNumber(s.room) })}`]));
  showRoom();
  const rows = shelters.list.map((s) => [s.name, communityName(s.community), h("span", { class: `badge shelter-${s.status}` }, t(`shelter.status.${s.status}`)), t("prep.shelter.occupancy_of", { occupancy: fmtNumber(s.occupancy), capacity: fmtNumber(s.capacity) }), fmtNumber(s.room)]);
  const box = clear($("shelter-list"));
  box.append(table([t("prep.shelter.name"), t("squad.col.community"), t("prep.shelter.status"), t("prep.shelter.occupancy"), t("prep.shelter.room")], rows, { numeric: [4] }));
  box.querySelectorAll("tbody tr").forEach((tr, i) => shelters.list[i] && (tr.dataset.shelter = String(shelters.list[i].id)));
}

function showRoom() {
  const s = shelters.byId.get(Number($("intake-shelter").value));
  $("intake-room").textContent = s ? roomText(s) : t("prep.squad.no_shelter");
  $("intake-room").dataset.room = s ? String(s.room) : "";
}

/** The chosen shelter's register: who is there now. */
async function loadRegister() {
  const id = Number($("intake-shelter").value);
  const box = $("shelter-register");
  if (!id) {
    clear(box);
    return;
  }
  $("register-title").textContent = t("prep.squad.register_of", { shelter: shelters.byId.get(id)?.name || "" });
  try {
    const present = await api(`/api/shelters/${id}/registrations`);
    const rows = present.map((r) => [
      r.household_code ? [t("prep.squad.care_household"), " ", h("code", {}, r.household_code)] : t("prep.squad.household"),
      fmtNumber(r.people),
      r.needs || "",
      fmtTime(r.registered_at),
      leaveButton(id, r),
    ]);
    clear(box).append(table([t("prep.squad.col.household"), t("prep.squad.col.people"), t("prep.squad.col.needs"), t("prep.squad.col.registered_at"), t("prep.squad.col.actions")], rows, { numeric: [1] }));
    box.querySelectorAll("tbody tr").forEach((tr, i) => present[i] && (tr.dataset.registration = String(present[i].id)));
  } catch (error) {
    clear(box).append(h("p", { class: "error" }, error instanceof TypeError ? t("squad.offline_no_copy") : codedText(error.problem || {}, error.message)));
  }
}

/** The household leaves the shelter (离开): its places are free again once the service
 * has it; through the outbox, so a tap without a network is sent when there is one, once. */
function leaveButton(shelterId, registration) {
  const name = shelters.byId.get(shelterId)?.name || "";
  const text = t("prep.squad.leave_label", { n: registration.people, shelter: name });
  return h(
    "button",
    { type: "button", class: "btn btn-small", dataset: { leave: String(registration.id) }, "aria-label": text, onclick: (event) => {
      event.target.disabled = true;
      act("leave", `/api/shelters/${shelterId}/registrations/${registration.id}/leave`, {}, text, { shelter: shelterId, registration: registration.id });
    } },
    t("prep.squad.leave"),
  );
}

/** A community worker's care households (read when the tab is first opened: every read of
 * them is audited). */
async function loadHouseholds() {
  if (!can("care.read") || !state.community || shelters.households) return;
  $("intake-household-box").hidden = false;
  shelters.households = await api(`/api/care-households?community=${state.community}`).catch(() => []);
  options(
    $("intake-household"),
    shelters.households.map((x) => [String(x.id), t("prep.squad.household_option", { kind: t(`prep.care.${x.kind}`), name: x.head_name, n: x.members })]),
    { blank: t("prep.squad.not_care") },
  );
}

function pickHousehold() {
  const household = shelters.households?.find((x) => x.id === Number($("intake-household").value));
  if (!household) return;
  $("intake-people").value = String(household.members);
  const needs = household.needs.map((n) => t(`prep.care_need.${n}`)).join(SEP());
  if (needs && !$("intake-needs").value) $("intake-needs").value = needs;
}

// --- recording an intake ----------------------------------------------------------------------

function needsOf(form) {
  const quick = [...form.querySelectorAll("#intake-quick input:checked")].map((x) => t(`prep.squad.need.${x.value}`));
  const typed = form.needs.value.trim();
  const text = [...quick, ...(typed ? [typed] : [])].join(SEP());
  return text.slice(0, 300);
}

function record(shelterId, body) {
  const s = shelters.byId.get(shelterId);
  const text = t("prep.squad.intake_label", { n: body.people, shelter: s?.name || "" });
  act("intake", `/api/shelters/${shelterId}/intake`, body, text, { shelter: shelterId, body });
  $("intake-status").textContent = navigator.onLine ? "" : t("squad.outbox.saved_offline");
}

function onIntake(event) {
  event.preventDefault();
  const form = event.target;
  const people = wholeNumber(form.people);
  const shelterId = Number(form.shelter.value);
  if (!shelterId) return formError(form, t("prep.squad.no_shelter"));
  if (!people || people > 100) return formError(form, t("squad.form.bad_qty", { field: t("prep.squad.people") }));
  formError(form, "");
  $("intake-elsewhere").hidden = true;
  const body = { people };
  const needs = needsOf(form);
  if (needs) body.needs = needs;
  if (form.household?.value) body.household_id = Number(form.household.value);
  record(shelterId, body);
}

/** The service registered the household, or refused it (a full shelter names the nearest
 * open one with room: one tap registers the same household there). */
function onOutbox(event) {
  const { sent, refused, result } = event.detail || {};
  if (sent?.kind === "intake" && result?.shelter) {
    const s = result.shelter;
    $("intake-status").textContent = t("prep.squad.intake_done", { n: result.registration.people, shelter: s.name, room: fmtNumber(s.room) });
    $("intake-form").reset();
    shelters.byId.set(s.id, s);
    loadSheltersSoon();
  }
  if (sent?.kind === "leave" && result?.shelter) {
    $("intake-status").textContent = t("prep.squad.left_done", { shelter: result.shelter.name, room: fmtNumber(result.shelter.room) });
    shelters.byId.set(result.shelter.id, result.shelter);
    loadSheltersSoon();
  }
  if (refused?.kind === "leave") loadSheltersSoon(); // left already, from another tablet
  if (refused?.kind === "intake") {
    const form = $("intake-form");
    const problem = refused.problem || {};
    formError(form, codedText(problem, problem.detail));
    $("intake-status").textContent = "";
    offerNearest(problem, refused);
    loadSheltersSoon();
  }
}

/** A tap registers the refused household at the nearest shelter, when it is one this tablet
 * registers at (another street's shelter is only named: its own people register there). */
function offerNearest(problem, refused) {
  const box = $("intake-elsewhere");
  const body = refused.ref.body;
  const nearest = problem.code === "shelter.full" && shelters.byId.has(problem.params?.nearest_id) ? problem.params.nearest_id : null;
  box.hidden = !nearest;
  if (!nearest) return;
  clear(box).append(
    h("button", { type: "button", class: "btn btn-primary", id: "intake-nearest", dataset: { shelter: String(nearest) }, onclick: () => {
      box.hidden = true;
      formError($("intake-form"), "");
      outbox.dismiss(refused.key); // answered by this new intake
      record(nearest, body);
    } }, t("prep.squad.register_there", { shelter: problem.params.nearest, n: body.people })),
  );
}

export function wireShelters() {
  $("intake-form").addEventListener("submit", onIntake);
  $("intake-shelter").addEventListener("change", () => {
    showRoom();
    loadRegister();
  });
  $("intake-household").addEventListener("change", pickHousehold);
  $("shelters-reload").addEventListener("click", loadShelters);
  $("tab-shelters").addEventListener("click", () => loadHouseholds());
  window.addEventListener("outbox-changed", onOutbox);
  clear($("intake-quick")).append(
    h("legend", {}, t("prep.squad.needs_quick")),
    ...QUICK_NEEDS.map((n) => h("label", { class: "check" }, h("input", { type: "checkbox", value: n }), ` ${t(`prep.squad.need.${n}`)}`)),
  );
}

/** The live feed's shelter events: occupancy changed somewhere in the street. */
export function shelterEvent(event) {
  if ((event.kind || "").startsWith("shelter.") && (!event.street || event.street === state.street) && shelters.loaded) loadSheltersSoon();
}
