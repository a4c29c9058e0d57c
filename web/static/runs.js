// The administrators' Training tab: the runs `zhiyan train --out` writes
// into the runs directory, and one run's loss curve drawn as SVG with its
// validation losses and the monitor's events, refreshed while it trains.
import { getJSON } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./app.js";

const $ = sel => document.querySelector(sel);
const runPoll = 3000;  // ms between refreshes of a running run
const listPoll = 5000; // of the list while a run in it is running

// The SVG namespace, taken from the parser rather than written out.
const svgNS = (() => { const d = document.createElement("div"); d.innerHTML = "<svg></svg>"; return d.firstChild.namespaceURI; })();

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

let open = null;  // the name of the run shown, null for the list
let timer = 0;
let seq = 0;      // drops answers that arrive after the view changed

function stopPolling() { clearTimeout(timer); timer = 0; }

// visible: the Training tab is on screen.
function visible() { return $("#admin").open && !$("#admin-runs").hidden && !document.hidden; }

function schedule(fn, ms) {
  stopPolling();
  timer = setTimeout(() => { timer = 0; if (visible()) fn(); }, ms);
}

export function showRuns() {
  open = null;
  $("#run-view").hidden = true;
  $("#runs-browse").hidden = false;
  loadList();
}

export function leaveRuns() {
  stopPolling();
  seq++;
}

const fmt = (v, d = 4) => (v === null || v === undefined || !Number.isFinite(v)) ? "–" : v.toFixed(d);
const when = iso => new Date(iso).toLocaleString();
const statusKeys = { running: "runRunning", finished: "runFinished", stopped: "runStopped", diverged: "runDiverged" };

function statusBadge(st) {
  return h("span", { class: `badge run-${statusKeys[st] ? st : "stopped"}` }, statusKeys[st] ? t(statusKeys[st]) : st);
}

function progress(r) {
  const text = r.steps ? `${r.step} / ${r.steps}` : String(r.step);
  return r.steps ? [h("progress", { max: r.steps, value: Math.min(r.step, r.steps) }), " ", text] : text;
}

async function loadList() {
  const my = ++seq;
  let r;
  try {
    r = await getJSON("/app/admin/runs");
  } catch (e) {
    if (my === seq) $("#admin-error").textContent = e.message;
    return;
  }
  if (my !== seq || open !== null) return;
  $("#runs-dir").textContent = r.dir ? `${t("runsDir")}: ${r.dir}` : t("runsOff");
  $("#runs-empty").hidden = r.runs.length > 0 || !r.dir;
  $("#runs-empty").textContent = t("noRuns").replaceAll("{dir}", r.dir);
  $("#runs-table").replaceChildren(
    h("tr", {}, h("th", {}, t("runName")), h("th", {}, t("runStatus")), h("th", {}, t("runSteps")),
      h("th", {}, t("trainLoss")), h("th", {}, t("valLoss")), h("th", {}, t("runEvents")), h("th", {}, t("updated"))),
    ...r.runs.map(run => h("tr", { dataset: { run: run.name, status: run.status } },
      h("td", {}, h("button", { class: "ghost run-open", onclick: () => openRun(run.name) }, run.name)),
      h("td", {}, statusBadge(run.status)),
      h("td", {}, progress(run)),
      h("td", {}, fmt(run.loss)),
      h("td", {}, fmt(run.val_loss)),
      h("td", {}, String(run.events)),
      h("td", {}, when(run.updated)))));
  if (r.runs.some(x => x.status === "running" || !x.complete)) schedule(loadList, listPoll);
}

async function openRun(name) {
  open = name;
  stopPolling();
  $("#admin-error").textContent = "";
  $("#runs-browse").hidden = true;
  $("#run-view").hidden = false;
  $("#run-title").textContent = name;
  $("#run-chart").replaceChildren();
  await loadRun();
}

async function loadRun() {
  const my = ++seq, name = open;
  let r;
  try {
    r = await getJSON(`/app/admin/runs/${encodeURIComponent(name)}`);
  } catch (e) {
    if (my === seq) $("#admin-error").textContent = e.message;
    return;
  }
  if (my !== seq || open !== name) return;
  $("#admin-error").textContent = "";
  $("#run-status").replaceChildren(statusBadge(r.status));
  $("#run-chart").replaceChildren(chart(r));
  renderNumbers(r);
  renderEvents(r.event_list);
  $("#run-settings").replaceChildren(...r.settings.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))));
  $("#run-settings-box").hidden = r.settings.length === 0;
  $("#run-log").textContent = r.log.join("\n");
  if (r.status === "running" || !r.complete) schedule(loadRun, runPoll);
}

function renderNumbers(r) {
  const l = r.last || {};
  const items = [
    [t("runSteps"), progress(r)],
    [t("trainLoss"), fmt(r.loss)],
    [t("valLoss"), fmt(r.val_loss)],
    [t("learningRate"), l.lr === undefined ? "–" : l.lr.toExponential(2)],
    [t("gradNorm"), fmt(l.norm)],
    [t("tokPerS"), l.tok_s === undefined ? "–" : Math.round(l.tok_s).toLocaleString()],
    [t("msPerStep"), fmt(l.ms, l.ms < 10 ? 2 : 0)],
    [t("runEvents"), String(r.events)],
    [t("updated"), when(r.updated)],
  ];
  if (r.bad_lines) items.push([t("badLines"), String(r.bad_lines)]);
  $("#run-numbers").replaceChildren(...items.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function kindLabel(kind) {
  const key = "ev_" + kind;
  const s = t(key);
  return s === key ? kind : s;
}

function renderEvents(list) {
  $("#run-events-empty").hidden = list.length > 0;
  $("#run-events").replaceChildren(...(list.length ? [h("tr", {}, h("th", {}, t("step")), h("th", {}, t("eventKind")), h("th", {}, t("eventAction")), h("th", {}, t("eventDetail")))] : []),
    ...list.slice(-100).reverse().map(e => h("tr", { title: e.message },
      h("td", {}, String(e.step)),
      h("td", {}, h("span", { class: `ev-dot ev-${e.kind}` }), " ", kindLabel(e.kind)),
      h("td", {}, e.action),
      h("td", {}, e.detail || ""))));
}

// niceTicks covers lo…hi with about n round steps.
function niceTicks(lo, hi, n) {
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(v => v >= raw);
  const out = [];
  for (let v = Math.floor(lo / step) * step; v < hi + step * 0.999; v += step) out.push(+v.toPrecision(12));
  return out;
}

// chart draws the run: train loss (a line), validation losses (points),
// the unigram entropy (dashed: a model below it has learnt more than
// character frequencies) and the monitor's events (coloured marks, with
// their message as a tooltip).
function chart(r) {
  const W = 800, H = 300, L = 52, R = 16, T = 12, B = 34;
  let lo = Infinity, hi = -Infinity;
  const see = v => { if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } };
  r.train.forEach(p => see(p[1]));
  r.val.forEach(v => see(v.loss));
  if (r.unigram) see(r.unigram);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  const yt = niceTicks(lo, hi, 5);
  lo = yt[0]; hi = yt[yt.length - 1];
  const last = r.train.length ? r.train[r.train.length - 1][0] : 0;
  const xmax = Math.max(r.steps || 0, last + 1, ...r.event_list.map(e => e.step + 1), 1);
  const x = v => L + (W - L - R) * v / xmax;
  const y = v => T + (H - T - B) * (hi - Math.min(Math.max(v, lo), hi)) / (hi - lo);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "run-svg", role: "img", "aria-label": t("lossChart") });

  for (const v of yt) {
    svg.append(s("line", { class: "grid-line", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  for (const v of niceTicks(0, xmax, 5).filter(v => v <= xmax)) {
    svg.append(s("text", { x: x(v), y: H - B + 16, "text-anchor": "middle" }, String(v)));
  }
  svg.append(s("text", { x: (W + L) / 2, y: H - 3, "text-anchor": "middle" }, t("step")),
    s("text", { x: 12, y: H / 2, transform: `rotate(-90 12 ${H / 2})`, "text-anchor": "middle" }, t("lossAxis")));
  if (r.unigram) {
    svg.append(s("line", { class: "unigram", x1: L, x2: W - R, y1: y(r.unigram), y2: y(r.unigram) },
      s("title", {}, `${t("unigram")} ${r.unigram.toFixed(4)}`)));
  }
  for (const e of r.event_list) {
    const ex = x(e.step);
    svg.append(s("g", { class: `ev-mark ev-${e.kind}`, "data-step": e.step },
      s("line", { x1: ex, x2: ex, y1: T, y2: H - B }),
      s("line", { class: "hit", x1: ex, x2: ex, y1: T, y2: H - B }),
      s("path", { d: `M${ex - 4},${T} L${ex + 4},${T} L${ex},${T + 6} Z` }),
      s("title", {}, `${kindLabel(e.kind)} — ${e.message}`)));
  }
  if (r.train.length) {
    svg.append(s("polyline", { class: "train-line", points: r.train.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
  }
  if (r.val.length > 1) {
    svg.append(s("polyline", { class: "val-line", points: r.val.map(v => `${x(v.step).toFixed(1)},${y(v.loss).toFixed(1)}`).join(" ") }));
  }
  for (const v of r.val) {
    svg.append(s("circle", { class: "val-point", cx: x(v.step), cy: y(v.loss), r: 3.5 },
      s("title", {}, `${t("valLoss")} ${v.loss.toFixed(4)} @ ${v.step}${v.full ? " (" + t("wholeSet") + ")" : ""}`)));
  }
  // legend
  const lx = W - R - 330;
  svg.append(s("g", { class: "legend" },
    s("line", { class: "train-line", x1: lx, x2: lx + 20, y1: T + 10, y2: T + 10 }), s("text", { x: lx + 24, y: T + 14 }, t("trainLoss")),
    s("circle", { class: "val-point", cx: lx + 120, cy: T + 10, r: 3.5 }), s("text", { x: lx + 128, y: T + 14 }, t("valLoss")),
    r.unigram ? s("line", { class: "unigram", x1: lx + 220, x2: lx + 240, y1: T + 10, y2: T + 10 }) : null,
    r.unigram ? s("text", { x: lx + 244, y: T + 14 }, t("unigram")) : null));
  hover(svg, r.train, x, y, W, H, T, B);
  return svg;
}

// hover shows the train loss at the step under the pointer.
function hover(svg, pts, x, y, W, H, T, B) {
  if (!pts.length) return;
  const cursor = s("line", { class: "cursor", y1: T, y2: H - B, visibility: "hidden" });
  const dot = s("circle", { class: "cursor-dot", r: 3.5, visibility: "hidden" });
  const label = s("text", { class: "cursor-label", y: T + 30, visibility: "hidden" });
  svg.append(cursor, dot, label);
  const hide = () => { for (const el of [cursor, dot, label]) el.setAttribute("visibility", "hidden"); };
  svg.addEventListener("mouseleave", hide);
  svg.addEventListener("mousemove", ev => {
    const m = svg.getScreenCTM();
    if (!m) return;
    const px = (ev.clientX - m.e) / m.a;
    let best = 0;
    for (let i = 1; i < pts.length; i++) if (Math.abs(x(pts[i][0]) - px) < Math.abs(x(pts[best][0]) - px)) best = i;
    const [st, loss] = pts[best], cx = x(st);
    cursor.setAttribute("x1", cx); cursor.setAttribute("x2", cx);
    dot.setAttribute("cx", cx); dot.setAttribute("cy", y(loss));
    label.textContent = `${t("step")} ${Math.round(st)}: ${loss.toFixed(4)}`;
    label.setAttribute("x", cx > W / 2 ? cx - 8 : cx + 8);
    label.setAttribute("text-anchor", cx > W / 2 ? "end" : "start");
    for (const el of [cursor, dot, label]) el.setAttribute("visibility", "visible");
  });
}

export function initRuns() {
  $("#run-back").addEventListener("click", showRuns);
  $("#admin").addEventListener("close", leaveRuns);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPolling();
    else if (visible()) (open === null ? loadList : loadRun)();
  });
}
