// Log in, then go where the user was going, or to the workspace of their role.
import { login } from "/static/js/api.js";
import { t } from "/static/js/i18n.js";

const HOME_OF_ROLE = {
  street_leader: "/squad",
  community_worker: "/squad",
  volunteer: "/squad",
  commander: "/command",
  viewer: "/command",
  trainer: "/drill",
};

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    error.textContent = `${t("login.failed")}: ${!username ? t("login.username") : t("login.password")}`;
    error.hidden = false;
    return;
  }
  try {
    const user = await login(username, password);
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : HOME_OF_ROLE[user.role] || "/";
  } catch (failure) {
    error.textContent = `${t("login.failed")}: ${failure.message}`;
    error.hidden = false;
  }
});
