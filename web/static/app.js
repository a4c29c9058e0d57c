// The chat page: sign-in, the conversation list, the start screen of
// scenario presets, and the streamed conversation itself.
import { api, getJSON, send, setCSRF, stream, APIError } from "./api.js";
import { t, getLang, setLang, applyStrings } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { openAdmin, initAdmin } from "./admin.js";
import { initPresets, loadPresets, renderPresets } from "./presets.js";

const $ = sel => document.querySelector(sel);

export const state = {
  me: null,
  models: [],
  conv: null,        // the open conversation, null for a new one
  messages: [],
  draft: { model: "", system: "", scenario: "", settings: {} }, // settings of a chat not yet created
  controller: null,  // AbortController of the answer streaming
};

// h builds an element: h("button", {class: "x", onclick: f}, "text", child).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// ---- start-up and accounts ----

async function boot() {
  applyTheme(localStorage.getItem("zhiyan.theme") || "");
  applyStrings(document);
  const setup = new URLSearchParams(location.hash.slice(1)).get("setup");
  try {
    const s = await getJSON("/app/session");
    return enter(s);
  } catch (e) {
    if (!(e instanceof APIError) || e.status !== 401) console.error(e);
  }
  $("#auth").hidden = false;
  $("#login-form").hidden = !!setup;
  $("#setup-form").hidden = !setup;
  (setup ? $("#setup-name") : $("#login-name")).focus();
}

async function signIn(path, body, errEl) {
  errEl.textContent = "";
  try {
    const s = await send("POST", path, body);
    history.replaceState(null, "", "/");
    $("#auth").hidden = true;
    await enter(s);
  } catch (e) {
    errEl.textContent = e.status === 401 ? t("wrong") : e.message;
  }
}

async function enter(s) {
  state.me = s.user;
  setCSRF(s.csrf);
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#me").textContent = s.user.name;
  $("#admin-open").hidden = !s.user.admin;
  const m = await getJSON("/app/models");
  state.models = m.models;
  await Promise.all([loadConversations(), loadPresets()]);
  const id = new URLSearchParams(location.hash.slice(1)).get("c");
  if (id) await openConversation(id);
  else newChat();
}

// ---- theme and language ----

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === "dark"
    : matchMedia("(prefers-color-scheme: dark)").matches;
  const next = dark ? "light" : "dark";
  localStorage.setItem("zhiyan.theme", next);
  applyTheme(next);
}

function toggleLang() {
  setLang(getLang() === "zh" ? "en" : "zh");
  renderPresets();
  renderConversations(lastConversations);
  if (!state.controller) renderMessages(); // a streaming answer keeps its element
  renderHeader();
}

// ---- the conversation list ----

let lastConversations = [];
let searchTimer = 0;

export async function loadConversations() {
  const q = $("#search").value.trim();
  const r = await getJSON("/app/conversations?limit=200&q=" + encodeURIComponent(q));
  lastConversations = r.conversations;
  renderConversations(lastConversations);
}

function renderConversations(list) {
  const nav = $("#conv-list");
  nav.replaceChildren(...list.map(c => h("div", { class: "conv-item" + (state.conv?.id === c.id ? " active" : ""), dataset: { id: c.id } },
    h("button", { class: "conv-title", title: c.title, onclick: () => openConversation(c.id) }, c.title || t("untitled")),
    h("button", { class: "ghost icon conv-menu", "aria-label": "…", onclick: e => conversationMenu(e, c) }, "⋯"))));
  if (list.length === 0) nav.append(h("p", { class: "empty" }, t("noConversations")));
}

function conversationMenu(e, c) {
  e.stopPropagation();
  closeMenus();
  const r = e.currentTarget.getBoundingClientRect();
  const pop = h("div", { class: "menu-pop", style: `top:${r.bottom}px;left:${Math.max(4, r.right - 180)}px` },
    h("button", { class: "menu-rename", onclick: () => renameConversation(c) }, t("rename")),
    h("button", { onclick: () => location.assign(`/app/conversations/${c.id}/export?format=md`) }, t("exportMd")),
    h("button", { onclick: () => location.assign(`/app/conversations/${c.id}/export?format=json`) }, t("exportJson")),
    h("button", { class: "menu-delete", onclick: () => deleteConversation(c) }, t("delete")));
  document.body.append(pop);
}

function closeMenus() { document.querySelectorAll(".menu-pop").forEach(m => m.remove()); }

async function renameConversation(c) {
  const title = prompt(t("renamePrompt"), c.title);
  if (title === null) return;
  const u = await send("PATCH", `/app/conversations/${c.id}`, { title });
  if (state.conv?.id === c.id) { state.conv = u; renderHeader(); }
  await loadConversations();
}

async function deleteConversation(c) {
  if (!confirm(t("confirmDelete"))) return;
  await send("DELETE", `/app/conversations/${c.id}`);
  if (state.conv?.id === c.id) newChat();
  await loadConversations();
}

// ---- opening and starting conversations ----

export function newChat() {
  stopAnswer();
  state.conv = null;
  state.messages = [];
  state.draft = { model: state.draft.model || state.models[0] || "", system: "", scenario: "", settings: {} };
  history.replaceState(null, "", "/");
  renderHeader();
  renderMessages();
  renderConversations(lastConversations);
  $("#input").value = "";
  $("#input").focus();
  closeNav();
}

async function openConversation(id) {
  stopAnswer();
  try {
    const r = await getJSON(`/app/conversations/${encodeURIComponent(id)}`);
    state.conv = r.conversation;
    state.messages = r.messages;
    history.replaceState(null, "", "#c=" + r.conversation.id);
  } catch (e) {
    if (e.status === 404) return newChat();
    throw e;
  }
  renderHeader();
  renderMessages();
  renderConversations(lastConversations);
  closeNav();
}

// usePreset starts a new chat whose input holds the preset's prompt.
export function usePreset(scenario, promptText) {
  newChat();
  state.draft.scenario = scenario;
  const input = $("#input");
  input.value = promptText;
  autoGrow();
  input.focus();
  const gap = promptText.indexOf("“”") >= 0 ? promptText.indexOf("“”") + 1 : promptText.indexOf('""') >= 0 ? promptText.indexOf('""') + 1 : promptText.length;
  input.setSelectionRange(gap, gap);
}

function renderHeader() {
  $("#title").textContent = state.conv?.title || t("newChat");
  const sel = $("#model");
  const current = state.conv?.model || state.draft.model || state.models[0] || "";
  const names = state.models.includes(current) || !current ? state.models : [current, ...state.models];
  sel.replaceChildren(...names.map(m => h("option", { value: m }, m)));
  sel.value = current;
}

async function pickModel() {
  const model = $("#model").value;
  if (state.conv) state.conv = await send("PATCH", `/app/conversations/${state.conv.id}`, { model });
  else state.draft.model = model;
}

// ---- settings ----

function currentSettings() { return state.conv ? { system: state.conv.system, settings: state.conv.settings || {} } : state.draft; }

function openSettings() {
  const { system, settings } = currentSettings();
  $("#set-system").value = system || "";
  $("#set-temperature").value = settings.temperature ?? "";
  $("#set-top-p").value = settings.top_p ?? "";
  $("#set-max-tokens").value = settings.max_tokens ?? "";
  $("#set-think").value = settings.think === undefined ? "" : settings.think ? "on" : "off";
  $("#settings").showModal();
}

async function saveSettings() {
  const num = id => $(id).value === "" ? undefined : Number($(id).value);
  const think = $("#set-think").value;
  const settings = { temperature: num("#set-temperature"), top_p: num("#set-top-p"), max_tokens: num("#set-max-tokens") || undefined,
    think: think === "" ? undefined : think === "on" };
  const system = $("#set-system").value;
  if (state.conv) state.conv = await send("PATCH", `/app/conversations/${state.conv.id}`, { system, settings });
  else Object.assign(state.draft, { system, settings });
}

// ---- messages ----

function renderMessages() {
  const box = $("#messages");
  const empty = !state.conv && state.messages.length === 0;
  $("#start").hidden = !empty;
  box.hidden = empty;
  box.replaceChildren(...state.messages.map(messageView));
  box.scrollTop = box.scrollHeight;
}

function lastAssistant() {
  for (let i = state.messages.length - 1; i >= 0; i--) if (state.messages[i].role === "assistant") return state.messages[i];
  return null;
}

function messageView(m) {
  const el = h("article", { class: `msg ${m.role} ${m.status === "error" ? "error" : ""}`, dataset: { id: m.id, status: m.status } });
  fillMessage(el, m);
  return el;
}

// fillMessage (re)draws message m into el; while streaming it is called
// once per frame with the text so far.
function fillMessage(el, m) {
  el.dataset.status = m.status;
  const busy = !!state.controller;
  if (m.role === "user") {
    el.replaceChildren(h("div", { class: "bubble content" }, m.content),
      h("div", { class: "meta" }, busy ? null : h("button", { class: "ghost edit", onclick: () => editMessage(el, m) }, t("edit"))));
    return;
  }
  const parts = [];
  if (m.reasoning) {
    const d = h("details", { class: "reasoning", open: m.status === "streaming" && !m.content },
      h("summary", {}, t("reasoning")));
    d.insertAdjacentHTML("beforeend", renderMarkdown(m.reasoning));
    parts.push(d);
  }
  const content = h("div", { class: "content" + (m.status === "streaming" ? " cursor" : "") });
  content.innerHTML = renderMarkdown(m.status === "error" ? `${t("error")}: ${m.error || ""}` : m.content);
  for (const b of content.querySelectorAll("button[data-copy]")) b.textContent = t("copy");
  parts.push(content);
  const meta = h("div", { class: "meta" });
  if (m.status === "interrupted") meta.append(h("span", { class: "status-note" }, t("interrupted")));
  if (m.completion_tokens) meta.append(h("span", {}, `${m.model || ""} · ${m.completion_tokens} ${t("tokens")}` +
    (m.duration_ms ? ` · ${(m.duration_ms / 1000).toFixed(1)} s` : "")));
  if (!busy && m === lastAssistant() && m.status !== "streaming") {
    meta.append(h("button", { class: "ghost regenerate", onclick: () => regenerate() }, t("regenerate")));
  }
  parts.push(meta);
  el.replaceChildren(h("div", { class: "bubble" }, parts));
}

function editMessage(el, m) {
  const ta = h("textarea", { rows: 3 });
  ta.value = m.content;
  el.replaceChildren(h("div", { class: "edit-box" }, ta,
    h("div", { class: "meta" },
      h("button", { class: "ghost", onclick: () => fillMessage(el, m) }, t("cancel")),
      h("button", { class: "primary save-send", onclick: () => ask({ content: ta.value, edit: m.id }) }, t("saveSend")))));
  ta.focus();
}

async function submit() {
  const text = $("#input").value;
  if (!text.trim() || state.controller) return;
  $("#input").value = "";
  autoGrow();
  await ask({ content: text });
}

function regenerate() { return ask({ regenerate: true }); }

// ask sends a turn and streams the answer into the page.
async function ask(body) {
  if (state.controller) return;
  if (!state.conv) {
    const d = state.draft;
    state.conv = await send("POST", "/app/conversations",
      { model: $("#model").value || d.model, system: d.system, scenario: d.scenario, settings: d.settings });
    history.replaceState(null, "", "#c=" + state.conv.id);
  }
  // Mirror the server's edit of the history, so the page looks right at once.
  if (body.regenerate) {
    const last = state.messages.findLastIndex(m => m.role === "user");
    state.messages = state.messages.slice(0, last + 1);
  } else if (body.edit) {
    state.messages = state.messages.slice(0, state.messages.findIndex(m => m.id === body.edit));
  }
  const ctrl = new AbortController();
  state.controller = ctrl;
  setBusy(true);
  renderMessages();
  let reply = null, el = null, frame = 0;
  const draw = () => { frame = 0; if (el) { fillMessage(el, reply); scrollDown(); } };
  try {
    await stream(`/app/conversations/${state.conv.id}/messages`, body, ctrl.signal, (name, data) => {
      switch (name) {
        case "conversation": state.conv = data; renderHeader(); break;
        case "user":
          if (!body.regenerate) { state.messages.push(data); $("#messages").append(messageView(data)); }
          break;
        case "assistant":
          reply = data;
          state.messages.push(reply);
          el = messageView(reply);
          $("#messages").append(el);
          break;
        case "delta":
          reply.content += data.content || "";
          reply.reasoning = (reply.reasoning || "") + (data.reasoning || "");
          if (!frame) frame = requestAnimationFrame(draw);
          break;
        case "done": Object.assign(reply, data); break;
        case "error": if (reply) Object.assign(reply, { status: "error", error: data.error }); break;
      }
    });
  } catch (e) {
    if (reply && reply.status === "streaming") reply.status = e.name === "AbortError" ? "interrupted" : "error";
    if (e.name !== "AbortError") {
      if (reply) reply.error = e.message;
      else alert(e.message);
    }
  } finally {
    if (frame) cancelAnimationFrame(frame);
    if (reply && reply.status === "streaming") reply.status = "interrupted";
    state.controller = null;
    setBusy(false);
    renderMessages();
    loadConversations();
  }
}

function stopAnswer() {
  if (state.controller) state.controller.abort();
}

function setBusy(busy) {
  $("#send").hidden = busy;
  $("#stop").hidden = !busy;
}

function scrollDown() {
  const box = $("#messages");
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 160) box.scrollTop = box.scrollHeight;
}

function autoGrow() {
  const ta = $("#input");
  ta.style.height = "auto";
  ta.style.height = Math.min(ta.scrollHeight + 2, innerHeight * 0.4) + "px";
}

function closeNav() { $("#app").classList.remove("nav-open"); }

async function copyCode(btn) {
  const code = btn.closest(".code").querySelector("code").textContent;
  try {
    await navigator.clipboard.writeText(code);
  } catch {
    // Not a secure context (plain HTTP on the LAN): the old way.
    const ta = h("textarea", { class: "offscreen" });
    ta.value = code;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  btn.textContent = t("copied");
  setTimeout(() => { btn.textContent = t("copy"); }, 1500);
}

// ---- wiring ----

function wire() {
  $("#login-form").addEventListener("submit", e => {
    e.preventDefault();
    signIn("/app/login", { name: $("#login-name").value, password: $("#login-password").value }, $("#login-error"));
  });
  $("#setup-form").addEventListener("submit", e => {
    e.preventDefault();
    const token = new URLSearchParams(location.hash.slice(1)).get("setup");
    signIn("/app/setup", { token, name: $("#setup-name").value, password: $("#setup-password").value }, $("#setup-error"));
  });
  $("#logout").addEventListener("click", async () => {
    await api("POST", "/app/logout").catch(() => {});
    location.replace("/");
  });
  $("#new-chat").addEventListener("click", newChat);
  $("#search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadConversations, 250); });
  $("#lang-toggle").addEventListener("click", toggleLang);
  $("#theme-toggle").addEventListener("click", toggleTheme);
  $("#menu").addEventListener("click", () => $("#app").classList.toggle("nav-open"));
  $("#scrim").addEventListener("click", closeNav);
  $("#model").addEventListener("change", pickModel);
  $("#settings-open").addEventListener("click", openSettings);
  $("#settings").addEventListener("close", () => { if ($("#settings").returnValue === "save") saveSettings(); });
  $("#composer").addEventListener("submit", e => { e.preventDefault(); submit(); });
  $("#stop").addEventListener("click", stopAnswer);
  const input = $("#input");
  input.addEventListener("input", autoGrow);
  input.addEventListener("keydown", e => {
    // isComposing: Enter also confirms a Chinese input method's candidate.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  document.addEventListener("keydown", e => {
    if (e.key === "Escape" && state.controller) { e.preventDefault(); stopAnswer(); }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" && !$("#app").hidden) { e.preventDefault(); newChat(); }
  });
  document.addEventListener("click", e => {
    if (!e.target.closest(".conv-menu")) closeMenus();
    const copy = e.target.closest("button[data-copy]");
    if (copy) copyCode(copy);
  });
  $("#admin-open").addEventListener("click", openAdmin);
  initAdmin();
  initPresets();
}

wire();
boot();
