// The administrators' dialog: users (add, disable, reset password, delete),
// API keys (create — shown once —, revoke), a read-only view of every
// conversation, the chat-platform bots' included, and the training runs.
import { getJSON, send } from "./api.js";
import { t } from "./i18n.js";
import { h, state } from "./app.js";
import { renderMarkdown } from "./markdown.js";
import { initRuns, leaveRuns, showRuns } from "./runs.js";

const $ = sel => document.querySelector(sel);
let users = [];

export async function openAdmin() {
  $("#key-created").hidden = true;
  $("#admin-error").textContent = "";
  showTab("accounts");
  await refresh();
  $("#admin").showModal();
}

function showTab(name) {
  for (const [tab, panel] of [["#admin-tab-accounts", "#admin-accounts"], ["#admin-tab-convs", "#admin-convs"], ["#admin-tab-runs", "#admin-runs"]]) {
    const on = panel === "#admin-" + name;
    $(tab).setAttribute("aria-selected", on);
    $(panel).hidden = !on;
  }
  $("#admin-error").textContent = "";
  if (name === "runs") showRuns();
  else leaveRuns();
  if (name === "convs") {
    $("#admin-conv-view").hidden = true;
    $("#admin-conv-browse").hidden = false;
    loadAll(false);
  }
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

// ---- every conversation, read-only ----

const pageSize = 50;
let shown = [];     // the conversations listed so far
let listSeq = 0;    // drops answers to searches typed over
let searchTimer = 0;

const sourceKeys = { web: "srcWeb", wechat: "srcWechat", wecom: "srcWecom", feishu: "srcFeishu", dingtalk: "srcDingtalk" };

function sourceBadge(source) {
  const key = sourceKeys[source];
  return h("span", { class: `badge src-${key ? source : "other"}` }, key ? t(key) : source);
}

function ownerLabel(o) {
  if (!o.platform) return o.name;
  const key = sourceKeys[o.platform];
  return `${o.name} (${key ? t(key) : o.platform})`;
}

function when(iso) { return new Date(iso).toLocaleString(); }

// loadAll lists the first page for the search box's text, or the next page.
async function loadAll(more) {
  const seq = ++listSeq;
  const q = $("#admin-conv-search").value.trim();
  const offset = more ? shown.length : 0;
  $("#admin-error").textContent = "";
  try {
    const r = await getJSON(`/app/admin/conversations?limit=${pageSize}&offset=${offset}&q=${encodeURIComponent(q)}`);
    if (seq !== listSeq) return;
    shown = more ? shown.concat(r.conversations) : r.conversations;
    $("#admin-conv-more").hidden = !r.more;
  } catch (e) {
    $("#admin-error").textContent = e.message;
    return;
  }
  $("#admin-conv-empty").hidden = shown.length > 0;
  $("#admin-conv-table").replaceChildren(
    h("tr", {}, h("th", {}, t("source")), h("th", {}, t("conversationTitle")), h("th", {}, t("owner")), h("th", {}, t("updated"))),
    ...shown.map(c => h("tr", { dataset: { id: c.id, source: c.source } },
      h("td", {}, sourceBadge(c.source)),
      h("td", {}, h("button", { class: "ghost conv-open", onclick: () => openOne(c) }, c.title || t("untitled"))),
      h("td", {}, ownerLabel(c.owner)),
      h("td", {}, when(c.updated)))));
}

// openOne shows conversation c's messages, rendered as in the chat but
// with nothing to edit, regenerate or send.
async function openOne(c) {
  $("#admin-error").textContent = "";
  let r;
  try {
    r = await getJSON(`/app/admin/conversations/${encodeURIComponent(c.id)}`);
  } catch (e) {
    $("#admin-error").textContent = e.message;
    return;
  }
  $("#admin-conv-title").textContent = r.conversation.title || t("untitled");
  $("#admin-conv-meta").replaceChildren(sourceBadge(r.conversation.source), " ", ownerLabel(r.owner),
    r.conversation.model ? ` · ${r.conversation.model}` : "", ` · ${when(r.conversation.updated)}`);
  const box = $("#admin-conv-messages");
  box.dataset.id = r.conversation.id;
  box.replaceChildren(...r.messages.map(readOnlyMessage));
  if (r.messages.length === 0) box.append(h("p", { class: "empty" }, t("noMessages")));
  $("#admin-conv-browse").hidden = true;
  $("#admin-conv-view").hidden = false;
  box.scrollTop = 0;
}

function readOnlyMessage(m) {
  const el = h("article", { class: `msg ${m.role} ${m.status === "error" ? "error" : ""}`, dataset: { id: m.id, status: m.status } });
  if (m.role === "user") {
    el.append(h("div", { class: "bubble content" }, m.content));
    return el;
  }
  const bubble = h("div", { class: "bubble" });
  if (m.reasoning) {
    const d = h("details", { class: "reasoning" }, h("summary", {}, t("reasoning")));
    d.insertAdjacentHTML("beforeend", renderMarkdown(m.reasoning));
    bubble.append(d);
  }
  const content = h("div", { class: "content" });
  content.innerHTML = renderMarkdown(m.status === "error" ? `${t("error")}: ${m.error || ""}` : m.content);
  for (const b of content.querySelectorAll("button[data-copy]")) b.textContent = t("copy");
  bubble.append(content);
  const meta = h("div", { class: "meta" });
  if (m.status === "interrupted") meta.append(h("span", { class: "status-note" }, t("interrupted")));
  if (m.completion_tokens) meta.append(h("span", {}, `${m.model || ""} · ${m.completion_tokens} ${t("tokens")}`));
  bubble.append(meta);
  el.append(bubble);
  return el;
}

export function initAdmin() {
  $("#admin-close").addEventListener("click", () => $("#admin").close());
  $("#admin-tab-accounts").addEventListener("click", () => showTab("accounts"));
  $("#admin-tab-convs").addEventListener("click", () => showTab("convs"));
  $("#admin-tab-runs").addEventListener("click", () => showTab("runs"));
  initRuns();
  $("#admin-conv-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadAll(false), 250); });
  $("#admin-conv-more").addEventListener("click", () => loadAll(true));
  $("#admin-conv-back").addEventListener("click", () => {
    $("#admin-conv-view").hidden = true;
    $("#admin-conv-browse").hidden = false;
  });
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
