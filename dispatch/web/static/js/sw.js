// The service worker: keeps the page shells, their scripts and the last answers of the API
// reads, so a tablet that loses its network still opens its pages and shows what it last
// saw. Mutations are never cached here: the page's outbox keeps and resends them.
const VERSION = "dispatch-v1";
const SHELL = [
  "/squad",
  "/login",
  "/static/css/app.css",
  "/static/js/api.js",
  "/static/js/dom.js",
  "/static/js/i18n.js",
  "/static/js/live.js",
  "/static/js/shell.js",
  "/static/js/login.js",
  "/static/favicon.svg",
];

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

/** Network first; on failure the last good answer. Keyed by URL and drill, never by token. */
async function networkFirst(request, cacheKey) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(cacheKey, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(cacheKey, { ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === "/api/live" || url.pathname.startsWith("/api/auth/")) return;
  if (url.pathname.startsWith("/api/")) {
    // the same path in a drill and in the real world are different answers
    const drill = request.headers.get("X-Exercise") || "real";
    const key = `${url.pathname}${url.search}${url.search ? "&" : "?"}__world=${drill}`;
    event.respondWith(networkFirst(request, key));
    return;
  }
  event.respondWith(networkFirst(request, url.pathname + url.search));
});
