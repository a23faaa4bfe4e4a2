// The JSON API from a page: the user's tokens, the drill being worked in, idempotency keys
// and problem+json errors. Every page script talks to the service only through `api()`.
const TOKENS = "dispatch.tokens";
const EXERCISE = "dispatch.exercise";
const USER = "dispatch.user";

/** A refused request: the service's problem+json, with the field at fault when it names one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.field = problem.field || null;
  }
}

export function tokens() {
  try {
    return JSON.parse(localStorage.getItem(TOKENS) || "null");
  } catch {
    return null;
  }
}

export function setTokens(pair) {
  if (pair) localStorage.setItem(TOKENS, JSON.stringify(pair));
  else localStorage.removeItem(TOKENS);
}

/** The exercise (drill) this browser is working in, or null for the real world. */
export function currentExercise() {
  const raw = localStorage.getItem(EXERCISE);
  return raw ? JSON.parse(raw) : null;
}

export function setExercise(exercise) {
  if (exercise) localStorage.setItem(EXERCISE, JSON.stringify({ id: exercise.id, name: exercise.name }));
  else localStorage.removeItem(EXERCISE);
  window.dispatchEvent(new CustomEvent("exercise-changed", { detail: exercise }));
}

/** A fresh Idempotency-Key: one per user action, reused for every resend of it. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function login(username, password) {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, body || {});
  setTokens({ access: body.access_token, refresh: body.refresh_token });
  const user = await api("/api/auth/me", { exercise: false });
  localStorage.setItem(USER, JSON.stringify(user));
  return user;
}

/** The user this browser logged in as (kept for offline use), or null. */
export function storedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER) || "null");
  } catch {
    return null;
  }
}

export function logout() {
  setTokens(null);
  localStorage.removeItem(USER);
  location.href = "/login";
}

let refreshing = null;

/** One refresh at a time, shared by every request that met an expired access token. */
async function refresh() {
  const pair = tokens();
  if (!pair?.refresh) return false;
  refreshing ??= fetch("/api/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: pair.refresh }),
  })
    .then(async (response) => {
      if (!response.ok) return false;
      const body = await response.json();
      setTokens({ access: body.access_token, refresh: body.refresh_token || pair.refresh });
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function readBody(response) {
  const type = response.headers.get("content-type") || "";
  if (response.status === 204) return null;
  if (type.includes("json")) return response.json();
  return response.text();
}

/**
 * Call the API. `body` is sent as JSON (or as is, for FormData/Blob); `key` is the action's
 * Idempotency-Key (mutations without one get a fresh key, so a resent request is harmless);
 * `exercise` defaults to the drill this browser works in (`false` forces the real world).
 * Network failures throw a TypeError, which the tablet outbox treats as "try again later".
 */
export async function api(path, { method = "GET", body, key, exercise, headers = {}, raw = false } = {}) {
  const send = async () => {
    const all = { Accept: "application/json", ...headers };
    const pair = tokens();
    if (pair?.access) all.Authorization = `Bearer ${pair.access}`;
    const drill = exercise === undefined ? currentExercise() : exercise;
    if (drill) all["X-Exercise"] = String(drill.id ?? drill);
    if (method !== "GET") all["Idempotency-Key"] = key || newKey();
    let payload = body;
    if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
      all["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(path, { method, headers: all, body: payload });
  };
  let response = await send();
  if (response.status === 401 && (await refresh())) response = await send();
  if (response.status === 401 && !path.startsWith("/api/auth/")) {
    goToLogin();
    throw new ApiError(401, { detail: "login needed" });
  }
  if (raw) return response;
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" && data ? data : { detail: String(data) });
  return data;
}

export function goToLogin() {
  const next = encodeURIComponent(location.pathname + location.search);
  if (!location.pathname.startsWith("/login")) location.href = `/login?next=${next}`;
}

/**
 * Who is logged in ({id, username, role, street, community}); sends to the login page if
 * nobody. Answered from what was stored at login, so it works offline too.
 */
export async function me() {
  const user = storedUser();
  if (!tokens() || !user) {
    goToLogin();
    throw new ApiError(401, { detail: "login needed" });
  }
  return user;
}

/** An access token for EventSource, which cannot send headers (refreshed first if stale). */
export async function freshAccessToken() {
  try {
    await api("/api/auth/me", { exercise: false });
  } catch {
    /* offline: the stored token is all there is */
  }
  return tokens()?.access || "";
}
