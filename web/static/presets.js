// Scenario presets on the start screen: the built-in ones (in both
// languages) and the user's own, which the user can add, edit and delete.
import { getJSON, send } from "./api.js";
import { t, getLang } from "./i18n.js";
import { h, usePreset } from "./app.js";

const $ = sel => document.querySelector(sel);
let data = { builtin: [], mine: [], hidden: 0 };
let editing = null; // {id?, replaces?} of the preset in the dialog

export async function loadPresets() {
  data = await getJSON("/app/presets");
  renderPresets();
}

export function renderPresets() {
  const zh = getLang() === "zh";
  const groups = ["office", "writing", "life"].map(cat => {
    const cards = [
      ...data.mine.filter(p => p.category === cat).map(p => card(p.name, p.prompt, `mine.${p.id}`,
        () => edit({ id: p.id }, p.category, p.name, p.prompt), true)),
      ...data.builtin.filter(b => b.category === cat).map(b => {
        const name = zh ? b.name_zh : b.name_en, prompt = zh ? b.prompt_zh : b.prompt_en;
        return card(name, prompt, b.key, () => edit({ replaces: b.key }, b.category, name, prompt), false);
      }),
    ];
    return h("div", { class: "preset-group", dataset: { category: cat } }, h("h3", {}, t(cat)), h("div", { class: "preset-grid" }, cards));
  });
  $("#presets").replaceChildren(...groups);
  $("#preset-restore").hidden = !data.hidden;
}

function card(name, prompt, key, onEdit, mine) {
  return h("div", { class: "preset-card" + (mine ? " mine" : ""), dataset: { key }, role: "button", tabindex: 0,
    onclick: () => usePreset(key, prompt), onkeydown: e => { if (e.key === "Enter") usePreset(key, prompt); } },
  h("span", { class: "preset-title" }, name),
  h("span", { class: "preset-text" }, prompt),
  h("button", { type: "button", class: "ghost preset-edit", onclick: e => { e.stopPropagation(); onEdit(); } }, t("edit")));
}

function edit(target, category, name, prompt) {
  editing = target;
  $("#preset-category").value = category;
  $("#preset-name").value = name;
  $("#preset-prompt").value = prompt;
  $("#preset-dialog").showModal();
}

export function initPresets() {
  $("#preset-add").addEventListener("click", () => edit({}, "office", "", ""));
  $("#preset-restore").addEventListener("click", async () => { await send("POST", "/app/presets/restore", {}); await loadPresets(); });
  $("#preset-dialog").addEventListener("close", async () => {
    if ($("#preset-dialog").returnValue !== "save" || !editing) return;
    const body = { id: editing.id || 0, category: $("#preset-category").value, name: $("#preset-name").value, prompt: $("#preset-prompt").value };
    if (editing.replaces) body.replaces = editing.replaces;
    try {
      await send("POST", "/app/presets", body);
    } catch (e) {
      alert(e.message);
    }
    editing = null;
    await loadPresets();
  });
}
