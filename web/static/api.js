// The JSON API of /app: every state-changing request carries the session's
// CSRF token in X-CSRF-Token.
let csrf = "";

export function setCSRF(token) { csrf = token || ""; }

export class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(method, path, body, signal) {
  const opt = { method, headers: {}, credentials: "same-origin", signal };
  if (method !== "GET") opt.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opt);
  if (!resp.ok) {
    let msg = resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch { /* not JSON */ }
    throw new APIError(resp.status, msg);
  }
  return resp;
}

export async function getJSON(path) { return (await api("GET", path)).json(); }
export async function send(method, path, body) { return (await api(method, path, body)).json(); }

// stream POSTs body to path and calls onEvent(name, data) for each
// Server-Sent Event of the answer until it ends or signal aborts.
export async function stream(path, body, signal, onEvent) {
  const resp = await api("POST", path, body, signal);
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}
