// What every page shares: who is logged in, logging out, the drill banner and colour, and
// whether the network is there.
import { currentExercise, logout, setExercise, storedUser, tokens } from "/static/js/api.js";
import { t } from "/static/js/i18n.js";

function showDrill() {
  const drill = currentExercise();
  const banner = document.getElementById("drill-banner");
  document.body.classList.toggle("drill", Boolean(drill));
  banner.hidden = !drill;
  document.getElementById("drill-name").textContent = drill ? `#${drill.id} ${drill.name || ""}` : "";
}

function showNetwork() {
  const status = document.getElementById("net-status");
  status.textContent = navigator.onLine ? "" : t("common.offline");
  status.classList.toggle("offline", !navigator.onLine);
}

function showUser() {
  const user = tokens() ? storedUser() : null;
  document.getElementById("logout").hidden = !user;
  document.getElementById("who").textContent = user ? `${user.username} · ${t(`role.${user.role}`)}` : "";
}
document.getElementById("drill-leave").addEventListener("click", () => setExercise(null));
document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("exercise-changed", showDrill);
window.addEventListener("online", showNetwork);
window.addEventListener("offline", showNetwork);
showDrill();
showNetwork();
showUser();
