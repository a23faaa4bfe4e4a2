// The tablet's outbox: every action a squad records (a receipt, an issue, a count, a task
// step) is written to IndexedDB first, with its own Idempotency-Key made at that moment,
// and sent from there. A network failure leaves it waiting and it is resent, with the same
// key, when the network returns (online event, a periodic retry, or the user's button), so
// the service applies it once however many times it travels. A refusal (4xx) is not
// retried: it stays listed with the service's reason until the user dismisses it.
import { api, ApiError, newKey } from "/static/js/api.js";

const DB_NAME = "dispatch-outbox";
const STORE = "actions";
const RETRY_MS = 15_000;

let dbPromise = null;

function openDb() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "key" });
      store.createIndex("user", "user");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

/** One transaction; `work(store)` may return a request, whose result is the answer. */
async function tx(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, mode);
    const request = work(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(request?.result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

let owner = null; // the user whose actions this page sends (never another user's)

/** Send only `userId`'s actions from now on (a shared tablet keeps each user's apart). */
export function setOwner(userId) {
  owner = userId;
}

/** This user's actions, oldest first: {key, path, method, body, label, kind, ref, state, problem}. */
export async function entries() {
  if (owner == null) return [];
  const all = (await tx("readonly", (store) => store.index("user").getAll(owner))) || [];
  return all.sort((a, b) => a.created - b.created || a.seq - b.seq);
}

/** How many actions of other users wait on this tablet (they are sent when they log in). */
export async function othersWaiting() {
  const all = await tx("readonly", (store) => store.getAll());
  return all.filter((entry) => entry.user !== owner && entry.state === "waiting").length;
}

function changed(detail = {}) {
  window.dispatchEvent(new CustomEvent("outbox-changed", { detail }));
}

let seq = 0;

/**
 * Keep an action and try to send it at once. `action` = {path, method, body, label, kind,
 * ref, exercise}; `exercise` is the drill it was recorded in (null: the real world), so a
 * resend acts in the same world whatever the browser works in later. Returns the entry.
 */
export async function record(action) {
  const entry = {
    key: newKey(),
    user: owner,
    method: "POST",
    state: "waiting",
    problem: null,
    tries: 0,
    created: Date.now(),
    seq: seq++,
    ...action,
  };
  await tx("readwrite", (store) => store.put(entry));
  changed({ recorded: entry });
  flush();
  return entry;
}

export async function dismiss(key) {
  await tx("readwrite", (store) => store.delete(key));
  changed();
}

/** Put a refused action back in the queue (e.g. after the cause was fixed elsewhere). */
export async function retry(key) {
  const entry = await tx("readonly", (store) => store.get(key));
  if (!entry) return;
  await tx("readwrite", (store) => store.put({ ...entry, state: "waiting", problem: null }));
  changed();
  flush();
}

/** Whether an answer means "refused, do not resend" (the request itself is at fault; an
 * answer marked `retry` met a concurrent change, was rolled back whole, and is resent). */
function refused(error) {
  if (!(error instanceof ApiError) || error.problem?.retry === true) return false;
  return error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status);
}

let running = null;
let again = false;

/** Send every waiting action of the owner, in the order recorded; stop at the first that
 * cannot travel (offline, server down) so later steps never overtake earlier ones. */
export function flush() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await sendAll();
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

async function sendAll() {
  const work = async () => {
    for (const entry of await entries()) {
      if (entry.state !== "waiting") continue;
      const outcome = await sendOne(entry);
      if (outcome === "stop") return;
    }
  };
  // one tab sends at a time, so two open tabs never race the same key
  if (navigator.locks?.request) await navigator.locks.request("dispatch-outbox", work);
  else await work();
}

async function sendOne(entry) {
  const options = { method: entry.method, body: entry.body, key: entry.key, exercise: entry.exercise ?? false };
  try {
    const result = await api(entry.path, options);
    await tx("readwrite", (store) => store.delete(entry.key));
    changed({ sent: entry, result });
    return "sent";
  } catch (error) {
    if (refused(error)) {
      const problem = { status: error.status, detail: error.message, field: error.field, ...pick(error.problem) };
      await tx("readwrite", (store) => store.put({ ...entry, state: "refused", problem, tries: entry.tries + 1 }));
      changed({ refused: { ...entry, problem } });
      return "refused";
    }
    // offline (TypeError), 5xx, or a login needed: keep it, with the same key, for later;
    // an answer saying when to come back (503, 409 `retry`: Retry-After) is resent then
    await tx("readwrite", (store) => store.put({ ...entry, tries: entry.tries + 1 }));
    changed({ waiting: entry });
    const after = Number(error?.problem?.retry_after);
    if (after > 0 && after * 1000 < RETRY_MS) setTimeout(() => flush(), after * 1000);
    return "stop";
  }
}

function pick(problem = {}) {
  const { current_version, task_status, item, depot, asked, available, code, params, shortages } = problem;
  return { current_version, task_status, item, depot, asked, available, code, params, shortages };
}

let timer = null;

/** Resend when the network comes back, and every 15 s while anything waits. */
export function start() {
  window.addEventListener("online", () => flush());
  clearInterval(timer);
  timer = setInterval(async () => {
    if ((await entries()).some((entry) => entry.state === "waiting")) flush();
  }, RETRY_MS);
  flush();
}
