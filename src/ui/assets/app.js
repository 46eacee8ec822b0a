// The run view: the board (#/) and a run's detail (#/run/<id>). Reads the JSON endpoints and
// follows Server-Sent Events; re-reads at most once a second.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
let stream = null;        // the EventSource of the current view
let timer = null;         // the elapsed-time ticker
let pending = null;       // a scheduled re-read
let lastRead = 0;
let shownStatus = null;   // the status of the run the detail shows

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function money(c) { return c == null ? "–" : "$" + (c < 0.01 && c > 0 ? c.toFixed(4) : c.toFixed(2)); }
function tokens(n) { n = n || 0; return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(n); }
function duration(ms) {
  if (ms == null || isNaN(ms)) return "–";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + (s % 60) + "s";
  return Math.floor(m / 60) + "h " + (m % 60) + "m";
}
function elapsed(run) {
  const start = Date.parse(run.started_at);
  const end = run.status === "running" ? Date.now() : Date.parse(run.updated_at);
  return duration(end - start);
}
async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(url + ": " + response.status + " " + (await response.text()));
  return response.json();
}
function copy(text) { if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {}); }
function copyButton(text) { return `<button class="copy" data-copy="${esc(text)}" title="copy">copy</button>`; }
document.addEventListener("click", e => {
  const t = e.target.closest("[data-copy]");
  if (t) copy(t.dataset.copy);
});

// Re-reads through `read` now or, if it ran less than a second ago, once that second is over.
function soon(read) {
  if (pending) return;
  const wait = Math.max(0, 1000 - (Date.now() - lastRead));
  pending = setTimeout(() => { pending = null; lastRead = Date.now(); read(); }, wait);
}
function follow(url, handlers) {
  if (stream) stream.close();
  stream = new EventSource(url);
  stream.onopen = () => live.classList.add("on");
  stream.onerror = () => live.classList.remove("on");
  for (const [name, handler] of Object.entries(handlers)) stream.addEventListener(name, handler);
}

// ---- Board -------------------------------------------------------------------------------
const COLUMNS = [
  ["running", "Running", r => r.status === "running"],
  ["failed", "Failed / interrupted", r => ["failed", "interrupted", "unreadable"].includes(r.status)],
  ["completed", "Completed", r => r.status === "completed"],
];

function card(run) {
  const usage = run.usage || {};
  return `<a class="card ${esc(run.status)}" id="card-${esc(run.run_id)}" href="#/run/${encodeURIComponent(run.run_id)}">
    <div class="wf">${esc(run.workflow ?? "(unreadable)")} <span class="badge ${esc(run.status)}">${esc(run.status)}</span></div>
    <div class="id">${esc(run.run_id)}</div>
    ${run.error ? `<div class="error">${esc(run.error)}</div>` : ""}
    <div class="meta">
      <span>at <code class="position">${esc(run.position ?? "–")}</code></span>
      <span class="elapsed" data-start="${esc(run.started_at)}">${run.started_at ? elapsed(run) : "–"}</span>
      <span class="cost">${money(usage.cost_usd)}</span>
      <span class="tokens">${tokens(usage.input_tokens)} in / ${tokens(usage.output_tokens)} out</span>
      ${run.project ? `<span class="project">${esc(run.project)}</span>` : ""}
    </div></a>`;
}

function costTable(runs) {
  const since = Date.now() - 30 * 24 * 3600 * 1000;
  const recent = runs.filter(r => Date.parse(r.started_at) >= since);
  let cost = 0, input = 0, output = 0;
  const rows = recent.map(r => {
    const u = r.usage || {};
    cost += u.cost_usd || 0; input += u.input_tokens || 0; output += u.output_tokens || 0;
    return `<tr><td class="mono">${esc(r.run_id)}</td><td>${esc(r.workflow)}</td><td>${esc(r.status)}</td>
      <td>${esc((r.started_at || "").slice(0, 16).replace("T", " "))}</td><td>${tokens(u.input_tokens)} / ${tokens(u.output_tokens)}</td><td>${money(u.cost_usd)}</td></tr>`;
  });
  return `<section id="cost"><h2>Cost, last 30 days: ${money(cost)} · ${tokens(input)} in / ${tokens(output)} out tokens · ${recent.length} runs</h2>
    <table><thead><tr><th>Run</th><th>Workflow</th><th>Status</th><th>Started (UTC)</th><th>Tokens in / out</th><th>Cost</th></tr></thead>
    <tbody>${rows.slice(0, 200).join("")}</tbody></table></section>`;
}

async function showBoard() {
  let listing;
  try { listing = await getJSON("/api/runs"); } catch (e) { main.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  if (location.hash && location.hash !== "#/") return;
  document.getElementById("scope").textContent = listing.project ?? "all projects";
  const runs = listing.runs;
  const columns = COLUMNS.map(([key, title, test]) => {
    const mine = runs.filter(test);
    return `<div class="column" id="col-${key}"><h2>${title} (${mine.length})</h2>${mine.slice(0, 100).map(card).join("") || '<p class="muted">none</p>'}</div>`;
  });
  main.innerHTML = `<div class="board">${columns.join("")}</div>${costTable(runs)}`;
  // The server is still adding up usage: ask again.
  if (runs.some(r => !("usage" in r))) soon(showBoard);
}

// ---- Run detail --------------------------------------------------------------------------
function stepRows(steps) {
  return steps.map(s => {
    const depth = (s.path.match(/\//g) || []).length;
    const u = s.usage || {};
    const error = s.error ? `<div class="error step-error"><span class="class">${esc(s.error.class)}</span>: <span class="message">${esc(s.error.message)}</span></div>` : "";
    const outputs = (s.outputs || []).map(o => `<a href="#" data-output="${esc(o)}">${esc(o.split("/").pop())}</a>`).join(" ");
    const session = s.session_id ? `<code>${esc(s.session_id.slice(0, 12))}</code> ${copyButton(s.session_id)}` : "";
    return `<tr class="step" data-path="${esc(s.path)}">
      <td class="path" style="padding-left:${0.5 + depth * 1.2}rem"><code>${esc(s.path)}</code>${error}</td>
      <td>${esc(s.kind)}</td><td><span class="badge ${esc(s.outcome)}">${esc(s.outcome)}</span></td>
      <td>${duration(s.duration_ms)}</td><td>${esc([s.cli, s.model].filter(Boolean).join(" / "))}</td><td>${session}</td>
      <td>${s.usage ? tokens(u.input_tokens) + " / " + tokens(u.output_tokens) : ""}</td><td>${s.usage ? money(u.cost_usd) : ""}</td><td>${outputs}</td></tr>`;
  }).join("");
}

// Cumulative cost and tokens over the steps' start times, as inline SVG.
function chart(steps) {
  const points = [];
  let cost = 0, toks = 0;
  for (const s of steps) {
    if (!s.usage || !s.started_at) continue;
    cost += s.usage.cost_usd || 0;
    toks += (s.usage.input_tokens || 0) + (s.usage.output_tokens || 0);
    points.push([Date.parse(s.started_at) + (s.duration_ms || 0), cost, toks]);
  }
  if (points.length === 0) return '<p class="muted">No agent usage yet.</p>';
  points.unshift([Date.parse(steps.find(s => s.started_at).started_at), 0, 0]);
  const W = 560, H = 160, P = 30;
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const maxC = Math.max(cost, 1e-9), maxT = Math.max(toks, 1);
  const x = t => P + (W - 2 * P) * (t - t0) / (t1 - t0);
  const line = (i, max) => points.map(p => `${x(p[0]).toFixed(1)},${(H - P - (H - 2 * P) * p[i] / max).toFixed(1)}`).join(" ");
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="cost and tokens over time">
    <line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#9ca3af"/>
    <polyline fill="none" stroke="#dc2626" stroke-width="2" points="${line(1, maxC)}"/>
    <polyline fill="none" stroke="#2563eb" stroke-width="2" stroke-dasharray="4 3" points="${line(2, maxT)}"/>
    ${points.map(p => `<circle r="3" fill="#dc2626" cx="${x(p[0]).toFixed(1)}" cy="${(H - P - (H - 2 * P) * p[1] / maxC).toFixed(1)}"/>`).join("")}
    <text x="${P}" y="16" font-size="12" fill="#dc2626">cost ${money(cost)}</text>
    <text x="${P + 140}" y="16" font-size="12" fill="#2563eb">tokens ${tokens(toks)}</text>
    <text x="${P}" y="${H - 8}" font-size="11" fill="#6b7280">${duration(0)}</text>
    <text x="${W - P}" y="${H - 8}" font-size="11" fill="#6b7280" text-anchor="end">${duration(t1 - t0)}</text></svg>`;
}

function logLine(raw) {
  let e;
  try { e = JSON.parse(raw); } catch (_) { return raw; }
  const d = e.data || {};
  const bits = [d.kind, d.outcome, d.command, d.message, d.error && (d.error.class + ": " + d.error.message), d.duration_ms != null ? duration(d.duration_ms) : null]
    .filter(v => v != null && v !== "");
  return `${(e.ts || "").slice(11, 23)} ${e.event} ${e.path || ""} ${bits.join(" · ")}`;
}

async function showRun(id) {
  let run;
  try { run = await getJSON("/api/runs/" + encodeURIComponent(id)); } catch (e) { main.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  if (location.hash !== "#/run/" + encodeURIComponent(id)) return;
  const failed = run.steps.filter(s => s.error);
  const logText = document.getElementById("log")?.textContent ?? "";
  const outputHTML = document.getElementById("output-view")?.innerHTML ?? "";
  shownStatus = run.status;
  main.innerHTML = `<div class="detail-head">
      <h1>${esc(run.workflow)}</h1><code>${esc(run.run_id)}</code>
      <span class="badge ${esc(run.status)}" id="status">${esc(run.status)}</span>
      <span>at <code id="position">${esc(run.position ?? "–")}</code></span>
      <span class="elapsed">${duration(run.duration_ms)}</span>
      <span>${money(run.usage.cost_usd)}${run.usage.cost_complete ? "" : "+"} · ${tokens(run.usage.input_tokens)} in / ${tokens(run.usage.output_tokens)} out</span>
      ${run.status === "running" ? '<button class="stop" id="stop">Stop</button>' : ""}
    </div>
    ${run.resume_command ? `<p>Resume: <code id="resume">${esc(run.resume_command)}</code> ${copyButton(run.resume_command)}</p>` : ""}
    ${failed.length ? `<section id="failure">${failed.map(s => `<p class="error"><code>${esc(s.path)}</code> failed: <span class="class">${esc(s.error.class)}</span>: <span class="message">${esc(s.error.message)}</span></p>`).join("")}</section>` : ""}
    <section><h2>Steps</h2><table class="tree"><thead><tr><th>Step</th><th>Kind</th><th>Outcome</th><th>Duration</th><th>CLI / model</th><th>Session</th><th>Tokens in / out</th><th>Cost</th><th>Output</th></tr></thead>
      <tbody>${stepRows(run.steps)}</tbody></table></section>
    <section class="chart"><h2>Cost and tokens over time</h2>${chart(run.steps)}</section>
    <section><h2>Log</h2><div class="log" id="log">${esc(logText)}</div></section>
    <section id="output-view">${outputHTML}</section>`;
  const stop = document.getElementById("stop");
  if (stop) stop.onclick = async () => {
    if (!confirm(`Stop run ${run.run_id}? It saves its state and can be resumed.`)) return;
    const response = await fetch(`/api/runs/${encodeURIComponent(run.run_id)}/stop`, { method: "POST", credentials: "same-origin" });
    stop.textContent = response.ok ? "Stopping…" : "Stop failed";
    stop.disabled = true;
  };
  for (const a of main.querySelectorAll("[data-output]")) a.onclick = async e => {
    e.preventDefault();
    const response = await fetch(`/api/runs/${encodeURIComponent(run.run_id)}/files/${a.dataset.output}`, { credentials: "same-origin" });
    document.getElementById("output-view").innerHTML = `<h2>${esc(a.dataset.output)}</h2><pre class="output">${esc(await response.text())}</pre>`;
  };
}

function followRun(id) {
  const url = "/api/runs/" + encodeURIComponent(id) + "/events";
  follow(url, {
    audit: e => {
      const log = document.getElementById("log");
      if (log) { log.textContent += logLine(e.data) + "\n"; log.scrollTop = log.scrollHeight; }
      // A finished run's log is only replayed; a running run's steps change with it.
      if (shownStatus === "running") soon(() => showRun(id));
    },
    end: () => {
      stream.close();
      live.classList.remove("on");
      if (shownStatus === "running") soon(() => showRun(id));
    },
  });
}

// ---- Routing -----------------------------------------------------------------------------
function route() {
  clearInterval(timer);
  clearTimeout(pending);
  pending = null;
  shownStatus = null;
  const match = location.hash.match(/^#\/run\/(.+)$/);
  main.innerHTML = '<p class="muted">Loading…</p>';
  if (match) {
    const id = decodeURIComponent(match[1]);
    showRun(id).then(() => followRun(id));
  } else {
    showBoard();
    follow("/api/changes", { change: () => soon(showBoard) });
    timer = setInterval(() => {
      for (const el of document.querySelectorAll(".card.running .elapsed")) {
        el.textContent = duration(Date.now() - Date.parse(el.dataset.start));
      }
    }, 1000);
  }
}
if (location.search.includes("token=")) history.replaceState(null, "", "/" + location.hash);
window.addEventListener("hashchange", route);
route();
