// The service worker: keeps the page shells, their scripts and the last answers of the API
// reads, so a tablet that loses its network still opens its pages and shows what it last
// saw. Mutations are never cached here: the page's outbox keeps and resends them.
//
// A tablet is shared by a squad: API answers are cached per user (the `sub` of the bearer
// token) and per world (real, or the drill named by X-Exercise), so whoever logs in next
// never sees, online or offline, what the previous user's account was allowed to read.
const VERSION = "dispatch-v10";
const SHELL = [
  "/squad",
  "/login",
  "/static/css/app.css",
  "/static/css/squad.css",
  "/static/js/api.js",
  "/static/js/dom.js",
  "/static/js/i18n.js",
  "/static/js/live.js",
  "/static/js/shell.js",
  "/static/js/login.js",
  "/static/js/vocabulary.js",
  "/static/js/squad/state.js",
  "/static/js/squad/loaders.js",
  "/static/js/squad/actions.js",
  "/static/js/squad/panels.js",
  "/static/js/squad/tasks.js",
  "/static/js/squad/steps.js",
  "/static/js/squad/run.js",
  "/static/js/squad/delivery.js",
  "/static/js/squad/hotline.js",
  "/static/js/squad/callouts.js",
  "/static/js/squad/shelters.js",
  "/static/css/preparedness.css",
  "/static/js/squad/activities.js",
  "/static/js/tickets.js",
  "/static/js/squad/scan.js",
  "/static/vendor/jsqr/jsQR.js",
  "/print/run",
  "/static/css/runsheet.css",
  "/static/js/runsheet.js",
  "/print/labels",
  "/static/css/labels.css",
  "/static/js/labels.js",
  "/print/card",
  "/static/js/card.js",
  "/static/js/squad/main.js",
  "/static/js/outbox.js",
  "/static/favicon.svg",
];
// a slow network in the rain: after this long, the last answer is shown while the
// request goes on (and refreshes the cache when it arrives)
const SLOW_MS = 6000;
const STORED_AT = "X-Dispatch-Stored-At";
// answers that are the same for every user and every world (the codes the service owns):
// one copy shared across users, kept when the tablet changes hands, so whoever logs in next
// still starts the page offline
const SHARED = new Set(["/api/vocabulary"]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(VERSION)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== VERSION).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

/** The user id inside a bearer token (read, not verified: it only partitions the cache). */
function userOf(request) {
  const header = request.headers.get("Authorization") || "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : "";
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))).sub;
    return sub ? String(sub) : null;
  } catch {
    return null;
  }
}

/** A copy of an answer stamped with when it was stored, so a page can say "as of 14:05". */
async function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set(STORED_AT, new Date().toISOString());
  const body = await response.blob();
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Network first; on failure (or a very slow answer) the last good one. */
async function networkFirst(request, cacheKey, { stamp = false } = {}) {
  const cache = await caches.open(VERSION);
  const network = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(cacheKey, stamp ? await stamped(response.clone()) : response.clone());
    return response;
  });
  const cached = () => cache.match(cacheKey, { ignoreVary: true });
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(async () => resolve((await cached()) || network), SLOW_MS);
  });
  try {
    return await Promise.race([network, slow]);
  } catch (error) {
    const last = await cached();
    if (last) return last;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === "/api/live" || url.pathname.startsWith("/api/auth/")) return;
  if (url.pathname.startsWith("/api/")) {
    const user = userOf(request);
    if (!user) return; // nobody logged in: nothing to keep
    if (SHARED.has(url.pathname)) {
      event.respondWith(networkFirst(request, url.pathname));
      return;
    }
    // the same path in a drill and in the real world are different answers
    const drill = request.headers.get("X-Exercise") || "real";
    const key = `${url.pathname}${url.search}${url.search ? "&" : "?"}__user=${user}&__world=${drill}`;
    event.respondWith(networkFirst(request, key, { stamp: true }));
    return;
  }
  event.respondWith(networkFirst(request, url.pathname + url.search));
});

/** A page forgets the API answers kept for anyone but `keep` (the user now logged in on a
 * shared tablet), or every API answer when `keep` is absent; the shared ones stay. */
self.addEventListener("message", (event) => {
  if (event.data?.type !== "forget-api") return;
  const keep = event.data.keep == null ? null : String(event.data.keep);
  event.waitUntil(
    caches.open(VERSION).then(async (cache) => {
      for (const request of await cache.keys()) {
        const url = new URL(request.url);
        if (!url.pathname.startsWith("/api/") || SHARED.has(url.pathname)) continue;
        if (keep === null || url.searchParams.get("__user") !== keep) await cache.delete(request);
      }
    }),
  );
});

/** A call-out's notification (squad/callouts.js shows it): a tap brings the tablet's page
 * forward, or opens it, where the call-out is answered in one tap. */
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url || "/squad";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((pages) => {
      const open = pages.find((page) => new URL(page.url).pathname === new URL(url, self.location.origin).pathname);
      return open ? open.focus() : self.clients.openWindow(url);
    }),
  );
});
