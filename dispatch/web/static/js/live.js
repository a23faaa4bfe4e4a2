// The live feed (/api/live, server-sent events) for a page: scoped to the user and to the
// drill this browser works in; resumes after a drop from the last id it saw.
import { currentExercise, freshAccessToken } from "/static/js/api.js";

/**
 * Call `onEvent({kind, at, street, community, exercise, data, id})` for every event.
 * `onReset()` runs when the server could not replay what was missed (reload the views).
 * Returns a function that stops listening.
 */
export function subscribe(onEvent, { onReset = () => {}, onStatus = () => {} } = {}) {
  let source = null;
  let lastId = null;
  let stopped = false;
  let retry = null;

  const open = async () => {
    if (stopped) return;
    const params = new URLSearchParams({ access_token: await freshAccessToken(), named: "false" });
    const drill = currentExercise();
    if (drill) params.set("exercise", String(drill.id));
    if (lastId) params.set("after", lastId);
    source = new EventSource(`/api/live?${params}`);
    source.onopen = () => onStatus("open");
    source.onerror = () => {
      onStatus("error");
      // a closed source (token expired, server restarted) is reopened with a fresh token
      if (source.readyState === EventSource.CLOSED && !stopped) {
        clearTimeout(retry);
        retry = setTimeout(open, 2000);
      }
    };
    source.addEventListener("reset", () => onReset());
    const handle = (message) => {
      lastId = message.lastEventId || lastId;
      try {
        onEvent({ ...JSON.parse(message.data), id: message.lastEventId });
      } catch (error) {
        console.warn("live event not understood", error);
      }
    };
    source.onmessage = handle; // named=false: every event arrives here, its kind in the data
  };

  open();
  const reopen = () => {
    source?.close();
    lastId = null;
    open();
  };
  window.addEventListener("exercise-changed", reopen);
  return () => {
    stopped = true;
    clearTimeout(retry);
    window.removeEventListener("exercise-changed", reopen);
    source?.close();
  };
}

