// The agent's web dashboard (GET /): one static page whose script polls
// /v1/status and /v1/members. No build step, no external assets.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>locker</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 980px; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
  .muted { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; }
  .alive { color: var(--ok); } .suspect { color: var(--warn); } .dead, .left { color: var(--bad); }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: .6rem; }
  .card { border: 1px solid #8884; border-radius: 6px; padding: .5rem .7rem; }
  .card b { display: block; font-size: 1.2rem; }
  #error { color: var(--bad); min-height: 1.2em; }
  code { font-size: .95em; }
</style>
</head>
<body>
<h1>locker <span id="name" class="muted"></span></h1>
<div class="muted">Atomic distributed check-and-set for short-lived keys. This page polls <code>/v1/status</code> and <code>/v1/members</code> every 2&nbsp;s.</div>
<div id="error"></div>
<h2>This node</h2>
<div class="grid" id="cards"></div>
<h2>Voters</h2>
<div id="voters" class="muted"></div>
<h2>Members</h2>
<table>
  <thead><tr><th>name</th><th>role</th><th>state</th><th>address</th><th>incarnation</th></tr></thead>
  <tbody id="members"></tbody>
</table>
<p class="muted">API: <code>/v1/keys</code>, <code>/v1/status</code>, <code>/v1/members</code>, <code>/metrics</code></p>
<script>
"use strict";
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function card(label, value) {
  var c = el("div", undefined, "card");
  c.appendChild(el("span", label, "muted"));
  c.appendChild(el("b", value === undefined || value === null ? "–" : value));
  return c;
}
// An agent started with --http-token-file answers 401 without the token: ask
// for it once and keep it for this tab only (sessionStorage, not a cookie).
async function getJson(path) {
  var token = sessionStorage.getItem("lockerToken");
  var r = await fetch(path, { cache: "no-store", headers: token ? { authorization: "Bearer " + token } : {} });
  if (r.status === 401) {
    var given = window.prompt("This agent needs its HTTP token (the one in its --http-token-file):");
    if (given) sessionStorage.setItem("lockerToken", given.trim());
    throw new Error(path + ": unauthorized (HTTP 401)");
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
async function refresh() {
  try {
    var s = await getJson("/v1/status");
    var m = await getJson("/v1/members");
    document.getElementById("name").textContent = s.name + " (" + s.role + ")";
    var cards = document.getElementById("cards");
    cards.replaceChildren(
      card("role", s.role),
      card("ready", s.ready ? "yes" : "no: " + (s.reason || "not ready")),
      card("live leases", s.summary && s.summary.leases),
      card("pending rounds", s.summary && s.summary.pendingRounds),
      card("probe lag", s.lagMs === undefined || s.lagMs === null ? undefined : s.lagMs.toFixed(1) + " ms"),
      card("config version", s.configVersion),
      card("uptime", Math.round(s.uptimeMs / 1000) + " s")
    );
    document.getElementById("voters").textContent = (s.voters || []).join(", ");
    var body = document.getElementById("members");
    body.replaceChildren.apply(body, m.members.map(function (x) {
      var tr = el("tr");
      tr.appendChild(el("td", x.name));
      tr.appendChild(el("td", x.role));
      tr.appendChild(el("td", x.state, x.state));
      tr.appendChild(el("td", x.address));
      tr.appendChild(el("td", x.incarnation));
      return tr;
    }));
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the agent: " + e.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
