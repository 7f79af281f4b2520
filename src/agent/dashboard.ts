// The agent's web dashboard (GET /): no build step, no external assets.
// The server renders a snapshot (this node, members, keys, elections) into
// the page, so the first paint has content; the page script then keeps it
// live: it polls /v1/status, /v1/members, /v1/keys and /metrics every 2 s and
// reads /v1/events (Server-Sent Events, through fetch so a bearer token can
// be sent) for joins, suspicions, deaths, locks and leaders as they happen.
//
// The row renderers below are plain functions with no imports: the server
// calls them, and the page gets their source (Function.prototype.toString),
// so both render the same markup from one definition.

/* eslint-disable @typescript-eslint/no-explicit-any */

/** What the server puts into the first paint. */
export interface DashboardSnapshot {
  status: Record<string, unknown>;
  members: Array<Record<string, unknown>>;
  /** User keys (internal ones are never listed), at most KEYS_PER_PAGE. */
  keys: Array<Record<string, unknown>>;
  truncated: boolean;
  /** Keys under election/ (LeaderElection): their value is the leader. */
  elections: Array<Record<string, unknown>>;
}

/** Keys shown per page (the filter narrows them by prefix). */
export const KEYS_PER_PAGE = 50;

function esc(v: unknown): string {
  return String(v === undefined || v === null ? "" : v).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
}

function shown(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function leaseText(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(1) + " s";
}

function cardsHtml(s: any): string {
  const card = (label: string, value: unknown, id?: string): string =>
    '<div class="card"><span class="muted">' + esc(label) + "</span><b" + (id ? ' id="' + id + '"' : "") + ">" + esc(value === undefined || value === null ? "–" : value) + "</b></div>";
  const summary = s.summary || {};
  return (
    card("role", s.role) +
    card("ready", s.ready ? "yes" : "no: " + (s.reason || "not ready"), "ready") +
    card("live leases", summary.leases) +
    card("pending rounds", summary.pendingRounds) +
    card("probe lag", s.lagMs === undefined || s.lagMs === null ? undefined : Number(s.lagMs).toFixed(1) + " ms") +
    card("config version", s.configVersion) +
    card("uptime", Math.round((s.uptimeMs || 0) / 1000) + " s")
  );
}

function membersHtml(members: any[]): string {
  if (members.length === 0) return '<tr><td colspan="7" class="muted">no members</td></tr>';
  return members
    .map(
      (m) =>
        '<tr data-member="' + esc(m.name) + '" data-state="' + esc(m.state) + '"><td>' + esc(m.name) + "</td><td>" + esc(m.role) + '</td><td class="' + esc(m.state) + '">' + esc(m.state) +
        "</td><td>" + esc(m.address) + "</td><td>" + esc(m.incarnation) + "</td><td>" + esc(typeof m.rttMs === "number" ? m.rttMs.toFixed(2) + " ms" : "–") +
        '</td><td class="ready">' + esc(!m.ready || m.state === "dead" || m.state === "left" ? "–" : m.ready.ok ? "ready" : m.ready.why || "not ready") + "</td></tr>",
    )
    .join("");
}

function keysHtml(keys: any[]): string {
  if (keys.length === 0) return '<tr><td colspan="4" class="muted">no keys held</td></tr>';
  return keys
    .map(
      (k) =>
        '<tr data-key="' + esc(k.key) + '"><td>' + esc(k.key) + '</td><td class="holder">' + esc(shown(k.value)) + '</td><td class="token">' + esc(k.token) +
        '</td><td class="lease" data-left="' + esc(k.leaseRemainingMs) + '">' + esc(leaseText(Number(k.leaseRemainingMs))) + "</td></tr>",
    )
    .join("");
}

function electionsHtml(keys: any[]): string {
  if (keys.length === 0) return '<tr><td colspan="3" class="muted">no election has a leader</td></tr>';
  return keys
    .map((k) => '<tr data-election="' + esc(String(k.key).slice("election/".length)) + '"><td>' + esc(String(k.key).slice("election/".length)) + '</td><td class="leader">' + esc(shown(k.value)) + "</td><td>" + esc(k.token) + "</td></tr>")
    .join("");
}

function eventText(e: any): string {
  const t = new Date(e.time).toISOString().slice(11, 23) + "  ";
  if (e.type === "member") return t + "member " + e.member + " " + e.state + " (" + e.change + ")";
  if (e.type === "acquired") return t + "acquired " + e.key + " = " + shown(e.value) + " (token " + e.token + ")";
  if (e.type === "leader") return t + "leader of " + e.election + ": " + shown(e.leader);
  return t + e.type + " " + e.key;
}

/** The page script: starts from the embedded snapshot, then keeps every part live. */
function clientMain(): void {
  const g = globalThis as any;
  const doc = g.document;
  const $ = (id: string): any => doc.getElementById(id);
  const state = { prefix: "", page: 0, keys: [] as any[], truncated: false, ops: [] as number[], lastOps: -1, lastBuckets: null as null | Map<number, number> };
  const token = (): string | null => g.sessionStorage.getItem("lockerToken");
  const headers = (): Record<string, string> => (token() ? { authorization: "Bearer " + token() } : {});
  async function getJson(path: string): Promise<any> {
    const r = await g.fetch(path, { headers: headers() });
    if (r.status === 401) {
      const given = g.prompt("This agent needs its HTTP token (the one in its --http-token-file):");
      if (given) g.sessionStorage.setItem("lockerToken", given.trim());
      throw new Error(path + ": unauthorized (HTTP 401)");
    }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return path === "/metrics" ? r.text() : r.json();
  }
  // Countdowns: each lease cell knows how long it had left when rendered.
  function stampLeases(): void {
    const now = g.performance.now();
    for (const cell of doc.querySelectorAll("td.lease[data-left]")) {
      cell.dataset.deadline = String(now + Number(cell.dataset.left));
      cell.removeAttribute("data-left");
    }
  }
  // A countdown at zero asks the agent again (at most twice a second): an
  // extend keeps the token and value, so no event tells of it; the listing does.
  let askedAt = -Infinity;
  function tickLeases(): void {
    const now = g.performance.now();
    let due = false;
    for (const cell of doc.querySelectorAll("td.lease[data-deadline]")) {
      const left = Number(cell.dataset.deadline) - now;
      cell.textContent = leaseText(left);
      if (left <= 0) due = true;
    }
    if (due && now - askedAt > 500) {
      askedAt = now;
      void refreshKeys().catch(() => {});
    }
  }
  function showKeys(): void {
    const pages = Math.max(1, Math.ceil(state.keys.length / KEYS_PER_PAGE));
    state.page = Math.min(state.page, pages - 1);
    $("keys").innerHTML = keysHtml(state.keys.slice(state.page * KEYS_PER_PAGE, (state.page + 1) * KEYS_PER_PAGE));
    $("page").textContent = "page " + (state.page + 1) + " of " + pages + (state.truncated ? " (more keys than listed)" : "");
    stampLeases();
  }
  async function refreshKeys(): Promise<void> {
    const [k, e] = await Promise.all([getJson("/v1/keys?prefix=" + encodeURIComponent(state.prefix)), getJson("/v1/keys?prefix=election/")]);
    state.keys = k.keys;
    state.truncated = k.truncated;
    showKeys();
    $("elections").innerHTML = electionsHtml(e.keys);
  }
  // Rates and latencies from the same counters as /metrics.
  function chart(): void {
    const w = 240;
    const h = 40;
    const max = Math.max(1, ...state.ops);
    const pts = state.ops.map((v, i) => ((i * w) / 59).toFixed(1) + "," + (h - (v / max) * h).toFixed(1)).join(" ");
    $("rate").innerHTML = '<svg width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="' + pts + '"/></svg>';
  }
  function readMetrics(text: string): void {
    let ops = 0;
    const buckets = new Map<number, number>();
    for (const line of text.split("\n")) {
      // The page's own polling (keys listings) is not what the cluster does.
      if (line.startsWith("locker_operations_total{") && !line.includes('kind="keys"')) ops += Number(line.slice(line.lastIndexOf(" ") + 1));
      else if (line.startsWith("locker_operation_duration_seconds_bucket{")) {
        const le = /le="([^"]+)"/.exec(line);
        if (le) {
          const bound = le[1] === "+Inf" ? Infinity : Number(le[1]);
          buckets.set(bound, (buckets.get(bound) || 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
        }
      }
    }
    if (state.lastOps >= 0) {
      state.ops.push(Math.max(0, (ops - state.lastOps) / 2));
      if (state.ops.length > 60) state.ops.shift();
    }
    state.lastOps = ops;
    const prev = state.lastBuckets;
    state.lastBuckets = buckets;
    chart();
    $("opsNow").textContent = state.ops.length ? state.ops[state.ops.length - 1]!.toFixed(1) + " ops/s" : "–";
    if (!prev) return;
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    const counts = bounds.map((b) => (buckets.get(b) || 0) - (prev.get(b) || 0));
    const total = counts[counts.length - 1] || 0;
    const q = (p: number): string => {
      if (total <= 0) return "–";
      const i = counts.findIndex((c) => c >= p * total);
      const b = bounds[i]!;
      return b === Infinity ? "> " + bounds[bounds.length - 2] + " s" : "≤ " + (b * 1000).toFixed(b < 0.01 ? 1 : 0) + " ms";
    };
    $("latency").textContent = "p50 " + q(0.5) + ", p99 " + q(0.99) + " (last 2 s)";
  }
  async function refresh(): Promise<void> {
    try {
      const [s, m] = await Promise.all([getJson("/v1/status"), getJson("/v1/members")]);
      $("name").textContent = s.name + " (" + s.role + ")";
      $("cards").innerHTML = cardsHtml(s);
      $("voters").textContent = (s.voters || []).join(", ");
      $("members").innerHTML = membersHtml(m.members);
      await refreshKeys();
      readMetrics(await getJson("/metrics"));
      $("error").textContent = "";
    } catch (e) {
      $("error").textContent = "cannot reach the agent: " + (e as Error).message;
    }
  }
  // The event stream, read through fetch (EventSource cannot send a token); reconnects after a drop, resuming from the last id.
  let lastId = 0;
  async function follow(): Promise<void> {
    for (;;) {
      try {
        const r = await g.fetch("/v1/events?since=" + lastId, { headers: headers() });
        if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
        const reader = r.body.getReader();
        const decoder = new g.TextDecoder();
        let buffer = "";
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").find((l: string) => l.startsWith("data: "));
            if (!data) continue;
            const e = JSON.parse(data.slice(6));
            lastId = Math.max(lastId, e.id);
            const li = doc.createElement("li");
            li.textContent = eventText(e);
            li.className = e.type === "member" ? e.state : e.type;
            $("events").prepend(li);
            while ($("events").children.length > 100) $("events").lastChild.remove();
            if (e.type === "member") void getJson("/v1/members").then((m: any) => ($("members").innerHTML = membersHtml(m.members)));
            else void refreshKeys();
          }
        }
      } catch {
        // Fall through to the retry below.
      }
      await new Promise((r) => g.setTimeout(r, 1000));
    }
  }
  $("filter").addEventListener("input", (ev: any) => {
    state.prefix = ev.target.value;
    state.page = 0;
    void refreshKeys();
  });
  $("prev").addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    showKeys();
  });
  $("next").addEventListener("click", () => {
    state.page++;
    showKeys();
  });
  const first = g.__snapshot;
  if (first) {
    state.keys = first.keys;
    state.truncated = first.truncated;
    $("page").textContent = "page 1";
  }
  stampLeases();
  g.setInterval(tickLeases, 100);
  void refresh();
  g.setInterval(refresh, 2000);
  void follow();
}

const SHARED = [esc, shown, leaseText, cardsHtml, membersHtml, keysHtml, electionsHtml, eventText, clientMain].map((f) => f.toString()).join("\n");

/** The page; with a snapshot its tables are filled (an agent with an HTTP token serves none: "/" needs no token). */
export function renderDashboard(snapshot: DashboardSnapshot | undefined): string {
  const s = snapshot?.status ?? {};
  const embedded = JSON.stringify(snapshot ? { keys: snapshot.keys, truncated: snapshot.truncated } : null).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>locker ${esc(s.name ?? "")}</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1080px; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
  .muted { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; }
  .alive { color: var(--ok); } .suspect { color: var(--warn); } .dead, .left, .expired { color: var(--bad); }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
  .card { border: 1px solid #8884; border-radius: 6px; padding: .5rem .7rem; }
  .card b { display: block; font-size: 1.15rem; }
  .cols { display: grid; grid-template-columns: 3fr 2fr; gap: 1.2rem; }
  #error { color: var(--bad); min-height: 1.2em; }
  #events { list-style: none; padding: 0; margin: 0; max-height: 22rem; overflow: auto; font: 12px/1.5 ui-monospace, monospace; }
  code { font-size: .95em; }
</style>
</head>
<body>
<h1>locker <span id="name" class="muted">${esc(s.name ? `${String(s.name)} (${String(s.role)})` : "")}</span></h1>
<div class="muted">Atomic distributed check-and-set for short-lived keys. Live: <code>/v1/events</code>; refreshed every 2&nbsp;s from <code>/v1/status</code>, <code>/v1/members</code>, <code>/v1/keys</code>, <code>/metrics</code>.</div>
<div id="error"></div>
<h2>This node</h2>
<div class="grid" id="cards">${snapshot ? cardsHtml(s) : ""}</div>
<h2>Operations</h2>
<div class="grid"><div class="card"><span class="muted">rate (last 2 min)</span><b id="opsNow">–</b><div id="rate"></div></div><div class="card"><span class="muted">latency</span><b id="latency">–</b></div></div>
<div class="cols">
<div>
<h2>Members</h2>
<div class="muted">Voters: <span id="voters">${esc(Array.isArray(s.voters) ? s.voters.join(", ") : "")}</span></div>
<table>
  <thead><tr><th>name</th><th>role</th><th>state</th><th>address</th><th>incarnation</th><th>round trip</th><th>ready</th></tr></thead>
  <tbody id="members">${snapshot ? membersHtml(snapshot.members) : ""}</tbody>
</table>
<h2>Keys</h2>
<div><input id="filter" placeholder="filter by prefix" autocomplete="off"> <button id="prev">‹</button> <span id="page" class="muted"></span> <button id="next">›</button></div>
<table>
  <thead><tr><th>key</th><th>holder (value)</th><th>fencing token</th><th>lease left</th></tr></thead>
  <tbody id="keys">${snapshot ? keysHtml(snapshot.keys) : ""}</tbody>
</table>
<h2>Elections</h2>
<table>
  <thead><tr><th>election</th><th>leader</th><th>token</th></tr></thead>
  <tbody id="elections">${snapshot ? electionsHtml(snapshot.elections) : ""}</tbody>
</table>
</div>
<div>
<h2>Events</h2>
<ul id="events"></ul>
</div>
</div>
<p class="muted">API: <code>/v1/keys</code>, <code>/v1/events</code>, <code>/v1/status</code>, <code>/v1/members</code>, <code>/metrics</code></p>
<script>
"use strict";
var KEYS_PER_PAGE = ${KEYS_PER_PAGE};
window.__snapshot = ${embedded};
${SHARED}
clientMain();
</script>
</body>
</html>
`;
}
