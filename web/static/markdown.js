// A small, safe Markdown renderer for answers: every piece of text is
// HTML-escaped, links keep only http, https and mailto URLs, and no raw
// HTML passes through. It renders a half-streamed answer too (an unclosed
// code fence is a code block up to the end).

export function escapeHTML(s) {
  return s.replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const fenceRe = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const headingRe = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const hrRe = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const itemRe = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const quoteRe = /^\s{0,3}>\s?(.*)$/;
const tableSepRe = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

export function renderMarkdown(src) {
  return blocks(src.replace(/\r\n?/g, "\n").split("\n"));
}

function blocks(lines) {
  let out = "";
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (line.trim() === "") { i++; continue; }
    if ((m = fenceRe.exec(line))) {
      const fence = m[1], lang = m[2].toLowerCase();
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence)) body.push(lines[i++]);
      i++;
      out += codeBlock(body.join("\n"), lang);
      continue;
    }
    if ((m = headingRe.exec(line))) {
      const n = m[1].length;
      out += `<h${n}>${inline(m[2])}</h${n}>`;
      i++;
      continue;
    }
    if (hrRe.test(line)) { out += "<hr>"; i++; continue; }
    if (quoteRe.test(line)) {
      const body = [];
      while (i < lines.length && (m = quoteRe.exec(lines[i]))) { body.push(m[1]); i++; }
      out += `<blockquote>${blocks(body)}</blockquote>`;
      continue;
    }
    if (itemRe.test(line)) { const r = list(lines, i); out += r.html; i = r.next; continue; }
    if (line.includes("|") && i + 1 < lines.length && tableSepRe.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const r = table(lines, i); out += r.html; i = r.next; continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() !== "" && !startsBlock(lines, i)) para.push(lines[i++].trim());
    if (para.length === 0) para.push(lines[i++].trim());
    out += `<p>${para.map(inline).join("<br>")}</p>`;
  }
  return out;
}

function startsBlock(lines, i) {
  const l = lines[i];
  return fenceRe.test(l) || headingRe.test(l) || hrRe.test(l) || quoteRe.test(l) || itemRe.test(l);
}

function list(lines, i) {
  const first = itemRe.exec(lines[i]);
  const base = first[1].length;
  const ordered = /\d/.test(first[2]);
  const start = ordered ? parseInt(first[2], 10) : 1;
  const items = [];
  let cur = null;
  while (i < lines.length) {
    const l = lines[i];
    const m = itemRe.exec(l);
    if (m && m[1].length === base && /\d/.test(m[2]) === ordered) {
      cur = [m[3]];
      items.push(cur);
      i++;
      continue;
    }
    if (l.trim() === "") {
      // A blank line ends the list unless the next line carries on.
      const n = lines[i + 1];
      if (n === undefined || !(indent(n) > base || (itemRe.test(n) && indent(n) === base))) break;
      cur.push("");
      i++;
      continue;
    }
    if (indent(l) > base) { cur.push(l.slice(Math.min(indent(l), base + 2 + (ordered ? 1 : 0)))); i++; continue; }
    if (m || startsBlock(lines, i)) break;
    cur.push(l.trim()); // a lazy continuation line
    i++;
  }
  const tag = ordered ? "ol" : "ul";
  const attr = ordered && start !== 1 ? ` start="${start}"` : "";
  const body = items.map(it => {
    if (it.length === 1) return `<li>${inline(it[0])}</li>`;
    return `<li>${blocks(it)}</li>`;
  }).join("");
  return { html: `<${tag}${attr}>${body}</${tag}>`, next: i };
}

function indent(l) { return l.length - l.trimStart().length; }

function cells(line) {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|")) s = s.slice(0, -1);
  return s.split("|").map(c => c.trim());
}

function table(lines, i) {
  const head = cells(lines[i]);
  const align = cells(lines[i + 1]).map(c => c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "");
  i += 2;
  // A class, not a style attribute: the page's CSP allows no inline styles.
  const td = (tag, c, k) => `<${tag}${align[k] ? ` class="al-${align[k]}"` : ""}>${inline(c)}</${tag}>`;
  let html = `<div class="table"><table><thead><tr>${head.map((c, k) => td("th", c, k)).join("")}</tr></thead><tbody>`;
  while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") {
    const row = cells(lines[i++]);
    html += `<tr>${head.map((_, k) => td("td", row[k] ?? "", k)).join("")}</tr>`;
  }
  return { html: html + "</tbody></table></div>", next: i };
}

// safeURL returns url when its scheme is allowed, else "".
export function safeURL(url) {
  const u = url.trim();
  return /^(https?:\/\/|mailto:)/i.test(u) ? u : "";
}

function inline(text) {
  // Code spans first: their content is literal.
  const held = [];
  const hold = html => `\u0000${held.push(html) - 1}\u0000`;
  text = text.replace(/\u0000/g, "");
  text = text.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, __, code) => hold(`<code>${escapeHTML(code.trim())}</code>`));
  // Links: [text](url), then bare URLs. The label is rendered; the URL
  // is escaped into a double-quoted attribute.
  text = text.replace(/\[([^\]\n]*)\]\(\s*<?([^()\s<>]*(?:\([^()\s]*\))?[^()\s<>]*)>?(?:\s+"[^"]*")?\s*\)/g, (all, label, url) => {
    const u = safeURL(url);
    if (!u) return hold(escapeHTML(label));
    return hold(`<a href="${escapeHTML(u)}" target="_blank" rel="noopener noreferrer nofollow">${emphasis(escapeHTML(label))}</a>`);
  });
  text = text.replace(/\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]。，；：！？）]/g,
    url => hold(`<a href="${escapeHTML(url)}" target="_blank" rel="noopener noreferrer nofollow">${escapeHTML(url)}</a>`));
  let html = emphasis(escapeHTML(text));
  // Held pieces may hold others (a code span inside a link's label).
  while (/\u0000\d+\u0000/.test(html)) html = html.replace(/\u0000(\d+)\u0000/g, (_, n) => held[n]);
  return html;
}

function emphasis(s) {
  return s
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>")
    .replace(/__(?=\S)([\s\S]*?\S)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?!\*)/g, "$1<em>$2</em>")
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<del>$1</del>");
}

function codeBlock(code, lang) {
  const label = lang ? `<span class="lang">${escapeHTML(lang)}</span>` : "";
  return `<div class="code"><div class="code-bar">${label}<button type="button" class="copy" data-copy>` +
    `</button></div><pre><code>${highlight(code, lang)}</code></pre></div>`;
}

// A small highlighter: comments, strings, numbers and keywords of common
// languages; anything else is plain escaped text.
const keywords = {
  js: "async await break case catch class const continue default delete do else export extends false finally for from function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while yield",
  py: "and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield self print",
  go: "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false iota error string int int64 float64 bool byte rune any make len append",
  c: "auto break case char const continue default do double else enum extern float for goto if int long register return short signed sizeof static struct switch typedef union unsigned void volatile while class public private protected new delete template typename namespace using bool true false null nullptr this virtual override final import package extends implements interface throws throw try catch finally String var let fn mut impl pub use mod match self Self struct enum trait where",
  sh: "if then else elif fi for while do done case esac in function return export local echo exit set unset cd source",
  sql: "select from where and or not insert into values update set delete create table drop alter index join left right inner outer on as group by order having limit offset null primary key foreign references distinct union all case when then else end count sum avg min max",
  css: "important inherit initial unset none auto",
};
const aliases = {
  javascript: "js", ts: "js", typescript: "js", jsx: "js", tsx: "js", json: "js", mjs: "js",
  python: "py", py3: "py", golang: "go", bash: "sh", shell: "sh", zsh: "sh", console: "sh",
  cpp: "c", "c++": "c", h: "c", java: "c", cs: "c", csharp: "c", rust: "c", rs: "c", kotlin: "c", swift: "c",
  postgres: "sql", mysql: "sql", sqlite: "sql", scss: "css",
};

function langRules(lang) {
  const l = aliases[lang] || lang;
  if (!(l in keywords) && !["html", "xml", "svg", "yaml", "yml", "toml", "ini"].includes(l)) return null;
  const hash = ["py", "sh", "yaml", "yml", "toml", "ini"].includes(l);
  const comment = l === "sql" ? String.raw`--[^\n]*|\/\*[\s\S]*?\*\/` :
    l === "html" || l === "xml" || l === "svg" ? String.raw`<!--[\s\S]*?-->` :
    hash ? "#[^\\n]*" : String.raw`\/\/[^\n]*|\/\*[\s\S]*?\*\/`;
  const strs = String.raw`"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'` + (l === "js" || l === "go" || l === "sh" ? "|`[^`]*`" : "");
  const words = keywords[l] ? new Set(keywords[l].split(" ")) : new Set();
  const re = new RegExp(`(${comment})|(${strs})|(\\b\\d[\\w.]*\\b)|([A-Za-z_$][\\w$]*)`, "g");
  return { re, words, ci: l === "sql" };
}

export function highlight(code, lang) {
  const rules = langRules(lang);
  if (!rules) return escapeHTML(code);
  let out = "", last = 0;
  for (const m of code.matchAll(rules.re)) {
    out += escapeHTML(code.slice(last, m.index));
    last = m.index + m[0].length;
    const e = escapeHTML(m[0]);
    if (m[1]) out += `<span class="tok-c">${e}</span>`;
    else if (m[2]) out += `<span class="tok-s">${e}</span>`;
    else if (m[3]) out += `<span class="tok-n">${e}</span>`;
    else if (rules.words.has(rules.ci ? m[0].toLowerCase() : m[0])) out += `<span class="tok-k">${e}</span>`;
    else out += e;
  }
  return out + escapeHTML(code.slice(last));
}
