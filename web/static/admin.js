// The administrators' dialog: users (add, disable, reset password, delete)
// and API keys (create — shown once —, revoke).
import { getJSON, send } from "./api.js";
import { t } from "./i18n.js";
import { h, state } from "./app.js";

const $ = sel => document.querySelector(sel);
let users = [];

export async function openAdmin() {
  $("#key-created").hidden = true;
  $("#admin-error").textContent = "";
  await refresh();
  $("#admin").showModal();
}

async function refresh() {
  users = (await getJSON("/app/admin/users")).users;
  const keys = (await getJSON("/app/admin/keys")).keys;
  const nameOf = id => users.find(u => u.id === id)?.name ?? `#${id}`;
  $("#users-table").replaceChildren(h("tr", {}, h("th", {}, t("name")), h("th", {}, ""), h("th", {}, "")),
    ...users.map(u => h("tr", { dataset: { user: u.name } },
      h("td", {}, u.name + (u.platform ? ` (${u.platform})` : "")),
      h("td", {}, [u.admin ? t("isAdmin") : "", u.disabled ? t("disabled") : ""].filter(Boolean).join(" · ")),
      h("td", {}, u.id === state.me.id ? "" : [
        h("button", { class: "toggle-user", onclick: () => act("PATCH", `/app/admin/users/${u.id}`, { disabled: !u.disabled }) }, u.disabled ? t("enable") : t("disable")),
        h("button", { onclick: () => resetPassword(u) }, t("resetPassword")),
        h("button", { class: "danger", onclick: () => confirm(`${t("delete")} ${u.name}?`) && act("DELETE", `/app/admin/users/${u.id}`) }, t("delete")),
      ]))));
  $("#keys-table").replaceChildren(h("tr", {}, h("th", {}, t("keyName")), h("th", {}, t("owner")), h("th", {}, ""), h("th", {}, t("used")), h("th", {}, "")),
    ...keys.map(k => h("tr", {},
      h("td", {}, k.name),
      h("td", {}, nameOf(k.user_id)),
      h("td", {}, h("code", {}, k.prefix + "…")),
      h("td", {}, `${k.tokens_used}${k.token_quota ? " / " + k.token_quota : ""}${k.requests_per_minute ? ` · ${k.requests_per_minute}/min` : ""}`),
      h("td", {}, k.revoked ? t("revoked") : h("button", { onclick: () => act("DELETE", `/app/admin/keys/${k.id}`) }, t("revoke"))))));
  $("#key-user").replaceChildren(...users.filter(u => !u.disabled).map(u => h("option", { value: u.id }, u.name)));
  $("#key-user").value = state.me.id;
}

async function act(method, path, body) {
  $("#admin-error").textContent = "";
  try {
    const r = await send(method, path, body);
    await refresh();
    return r;
  } catch (e) {
    $("#admin-error").textContent = e.message;
    return null;
  }
}

async function resetPassword(u) {
  const password = prompt(t("newPasswordPrompt"));
  if (password) await act("PATCH", `/app/admin/users/${u.id}`, { password });
}

export function initAdmin() {
  $("#admin-close").addEventListener("click", () => $("#admin").close());
  $("#user-form").addEventListener("submit", async e => {
    e.preventDefault();
    const ok = await act("POST", "/app/admin/users", { name: $("#user-name").value, password: $("#user-password").value, admin: $("#user-admin").checked });
    if (ok) e.target.reset();
  });
  $("#key-form").addEventListener("submit", async e => {
    e.preventDefault();
    const r = await act("POST", "/app/admin/keys", { name: $("#key-name").value, user_id: Number($("#key-user").value),
      requests_per_minute: Number($("#key-rpm").value) || 0, token_quota: Number($("#key-quota").value) || 0 });
    if (!r) return;
    $("#key-plain").textContent = r.key;
    $("#key-created").hidden = false;
    $("#key-name").value = "";
  });
}
