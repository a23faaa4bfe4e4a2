// The codes the service owns (incident types, priorities, request and task statuses, the
// task machine's steps, roles and who may do what), read once from GET /api/vocabulary
// instead of copied into each page. Pages keep only how a code looks (labels, badges).
// The answer is the same in every world, so it is asked outside any drill: the service
// worker keeps one copy per user and the squad tablet starts offline from it.
import { api } from "/static/js/api.js";

let loading = null;

/** The vocabulary, fetched on the first call and shared by every later one. */
export function vocabulary() {
  if (!loading) {
    loading = api("/api/vocabulary", { exercise: false }).catch((error) => {
      loading = null; // a failed start may try again
      throw error;
    });
  }
  return loading;
}
