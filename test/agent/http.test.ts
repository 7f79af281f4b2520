// End-to-end: three real agent processes on 127.0.0.1; every HTTP endpoint,
// the documented status codes for bad requests, and an agent that keeps serving.
import test from "ava";
import { request, startCluster, eventually, type Cluster } from "./harness.js";

let cluster: Cluster;

test.before(async () => {
  cluster = await startCluster("http");
});

test.after.always(async () => {
  await cluster?.stop();
});

const a = (i: number) => cluster.agents[i]!.http;

test.serial("lock, read on every node, update, extend, release", async (t) => {
  const lock = await request(a(0), "PUT", "/v1/keys/jobs%2Fone", { value: { owner: "w1" }, leaseMs: 20_000 });
  t.is(lock.status, 200, lock.text);
  t.is(lock.json.key, "jobs/one");
  t.deepEqual(lock.json.value, { owner: "w1" });
  t.regex(String(lock.json.token), /^\d+$/, "tokens are decimal strings");
  t.is(lock.json.leaseMs, 20_000);
  t.true((lock.json.safeForMs as number) > 15_000 && (lock.json.safeForMs as number) <= 20_000);
  t.true((lock.json.leaseRemainingMs as number) > 15_000);

  // Linearizable read through another node; local reads once the change reached it.
  for (const i of [0, 1, 2]) {
    const r = await request(a(i), "GET", "/v1/keys/jobs%2Fone?consistent=true");
    t.is(r.status, 200, r.text);
    t.deepEqual(r.json.value, { owner: "w1" });
    t.is(r.json.token, lock.json.token);
    await eventually("local copy", async () => ((await request(a(i), "GET", "/v1/keys/jobs/one")).status === 200 ? true : undefined));
  }

  const taken = await request(a(1), "PUT", "/v1/keys/jobs%2Fone", { value: "w2", leaseMs: 1000 });
  t.is(taken.status, 409);
  t.is(taken.json.error, "locked");
  t.truthy(taken.json.message);

  const wrong = await request(a(2), "POST", "/v1/keys/jobs%2Fone/update", { expected: "nope", value: "x" });
  t.is(wrong.status, 409);
  t.is(wrong.json.error, "mismatch");

  const upd = await request(a(2), "POST", "/v1/keys/jobs%2Fone/update", { expected: { owner: "w1" }, value: "w1-b" });
  t.is(upd.status, 200, upd.text);
  t.is(upd.json.value, "w1-b");
  t.is(upd.json.token, lock.json.token, "update keeps the lock's token");

  const ext = await request(a(1), "POST", "/v1/keys/jobs%2Fone/extend", { value: "w1-b", leaseMs: 30_000, timeoutMs: 5000 });
  t.is(ext.status, 200, ext.text);
  t.is(ext.json.leaseMs, 30_000);
  t.true((ext.json.leaseRemainingMs as number) > 25_000);

  const badRelease = await request(a(0), "POST", "/v1/keys/jobs%2Fone/release", { value: "w1" });
  t.is(badRelease.status, 409);
  t.is(badRelease.json.error, "mismatch");
  const rel = await request(a(0), "POST", "/v1/keys/jobs%2Fone/release", { value: "w1-b" });
  t.is(rel.status, 200, rel.text);
  t.deepEqual(rel.json, { key: "jobs/one", value: "w1-b", released: true });

  const gone = await request(a(2), "GET", "/v1/keys/jobs%2Fone?consistent=true");
  t.is(gone.status, 404);
  t.is(gone.json.error, "not_found");
  const notHeld = await request(a(2), "POST", "/v1/keys/jobs%2Fone/extend", { value: "w1-b", leaseMs: 1000 });
  t.is(notHeld.status, 404);
  t.is(notHeld.json.error, "not_found");

  const again = await request(a(2), "PUT", "/v1/keys/jobs%2Fone", { value: "w3", leaseMs: 1000 });
  t.is(again.status, 200);
  t.true(BigInt(again.json.token as string) > BigInt(lock.json.token as string), "the next holder's token is larger");
});

test.serial("long polls: wait for present, wait for released, and a wait that times out", async (t) => {
  const present = request(a(1), "GET", "/v1/keys/poll?wait=present&timeoutMs=20000");
  const lock = await request(a(0), "PUT", "/v1/keys/poll", { value: "here", leaseMs: 1500 });
  t.is(lock.status, 200);
  const p = await present;
  t.is(p.status, 200, p.text);
  t.is(p.json.value, "here");

  // The lease runs out by itself: the released-wait returns without anyone releasing.
  const released = await request(a(2), "GET", "/v1/keys/poll?wait=released&timeoutMs=20000");
  t.is(released.status, 200, released.text);
  t.deepEqual(released.json, { key: "poll", released: true });

  const timeout = await request(a(2), "GET", "/v1/keys/never?wait=present&timeoutMs=300");
  t.is(timeout.status, 504);
  t.is(timeout.json.error, "timeout");
});

test.serial("keys by prefix, members, status, health, metrics, dashboard", async (t) => {
  for (const k of ["p/a", "p/b", "q/c"]) t.is((await request(a(0), "PUT", `/v1/keys/${encodeURIComponent(k)}`, { value: k, leaseMs: 30_000 })).status, 200);
  const keys = await eventually("keys listed", async () => {
    const r = await request(a(0), "GET", "/v1/keys?prefix=p%2F");
    return (r.json.keys as unknown[]).length === 2 ? r : undefined;
  });
  t.deepEqual(
    (keys.json.keys as Array<{ key: string }>).map((k) => k.key).sort(),
    ["p/a", "p/b"],
  );
  t.is(keys.json.truncated, false);
  const all = await request(a(0), "GET", "/v1/keys");
  t.true((all.json.keys as unknown[]).length >= 3);

  const members = await request(a(1), "GET", "/v1/members");
  t.is(members.status, 200);
  const list = members.json.members as Array<Record<string, unknown>>;
  t.deepEqual(list.map((m) => m.name).sort(), ["http-n1", "http-n2", "http-n3"]);
  for (const m of list) {
    t.is(m.state, "alive");
    t.is(m.role, "voter");
    t.regex(String(m.address), /^127\.0\.0\.1:\d+$/);
    t.is(typeof m.incarnation, "number");
  }

  const status = await request(a(2), "GET", "/v1/status");
  t.is(status.status, 200);
  t.is(status.json.name, "http-n3");
  t.is(status.json.role, "voter");
  t.is(status.json.ready, true);
  t.deepEqual(status.json.voters, ["http-n1", "http-n2", "http-n3"]);
  t.is(status.json.configVersion, 1);
  t.is(typeof status.json.lagMs, "number");
  t.is(typeof (status.json.summary as Record<string, unknown>).leases, "number");

  const health = await request(a(0), "GET", "/v1/health");
  t.deepEqual(health.json, { ok: true, ready: true });

  const metrics = await request(a(0), "GET", "/metrics");
  t.is(metrics.status, 200);
  t.regex(String(metrics.headers["content-type"]), /text\/plain/);
  for (const line of [
    /locker_operations_total\{kind="lock",result="ok"\} \d+/,
    /locker_operation_duration_seconds_bucket\{le="[^"]+",kind="lock",result="ok"\} \d+/,
    /locker_members\{state="alive"\} 3/,
    /locker_live_leases \d+/,
    /locker_datagrams_in_total [1-9]\d*/,
    /locker_datagrams_out_total [1-9]\d*/,
    /locker_datagrams_dropped_total \d+/,
    /locker_rounds_total [1-9]\d*/,
    /locker_fast_rounds_total \d+/,
    /locker_round_conflicts_total \d+/,
    /locker_handovers_total \d+/,
    /locker_coalesced_locks_total \d+/,
    /locker_forwarded_total \d+/,
    /locker_forwards_served_total \d+/,
  ]) {
    t.regex(metrics.text, line);
  }

  // The refused lock of the first test went through the second agent.
  t.regex((await request(a(1), "GET", "/metrics")).text, /locker_operations_total\{kind="lock",result="locked"\} 1/);

  const page = await request(a(0), "GET", "/");
  t.is(page.status, 200);
  t.regex(String(page.headers["content-type"]), /text\/html/);
  t.regex(page.text, /\/v1\/status/);
  t.regex(page.text, /\/v1\/members/);
});

test.serial("bad requests get the documented 4xx and the agent keeps serving", async (t) => {
  const cases: Array<[string, string, unknown, number, string, RegExp]> = [
    ["PUT", "/v1/keys/k", "{not json", 400, "invalid", /malformed JSON/],
    ["PUT", "/v1/keys/k", "", 400, "invalid", /empty/],
    ["PUT", "/v1/keys/k", "[1,2]", 400, "invalid", /JSON object/],
    ["PUT", "/v1/keys/k", { leaseMs: 1000 }, 400, "invalid", /missing field "value"/],
    ["PUT", "/v1/keys/k", { value: "v" }, 400, "invalid", /missing field "leaseMs"/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 1000, colour: 1 }, 400, "invalid", /unknown field "colour"/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: "1000" }, 400, "invalid", /whole number/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 5 }, 400, "invalid", /between 10 and 60000/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 600_000 }, 400, "invalid", /between 10 and 60000/],
    ["PUT", `/v1/keys/${"k".repeat(257)}`, { value: "v", leaseMs: 1000 }, 400, "invalid", /key is 257 bytes; the limit is 256/],
    ["GET", `/v1/keys/${"k".repeat(257)}`, undefined, 400, "invalid", /limit is 256/],
    ["PUT", "/v1/keys/k", { value: "x".repeat(2000), leaseMs: 1000 }, 400, "invalid", /the limit is 1024/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 1000, timeoutMs: -1 }, 400, "invalid", /timeoutMs/],
    ["PUT", "/v1/keys/k", JSON.stringify({ value: "x".repeat(70_000), leaseMs: 1000 }), 413, "invalid", /limit of 65536|limit is 65536/],
    ["POST", "/v1/keys/k/update", { value: "v" }, 400, "invalid", /missing field "expected"/],
    ["POST", "/v1/keys/k/release", {}, 400, "invalid", /missing field "value"/],
    ["POST", "/v1/keys/k/frobnicate", { value: "v" }, 404, "not_found", /no action "frobnicate"/],
    ["GET", "/v1/keys/k?wait=sometime", undefined, 400, "invalid", /"wait" must be/],
    ["GET", "/v1/keys/k?wait=present&timeoutMs=999999999", undefined, 400, "invalid", /timeoutMs/],
    ["GET", "/v1/keys/k?colour=red", undefined, 400, "invalid", /unknown query parameter "colour"/],
    ["GET", "/v1/keys/%E0%A4%A", undefined, 400, "invalid", /percent-encoding/],
    ["GET", "/v2/everything", undefined, 404, "not_found", /no route GET \/v2\/everything/],
    ["GET", "/v1/nope", undefined, 404, "not_found", /no route/],
    ["DELETE", "/v1/keys/k", undefined, 405, "invalid", /method DELETE is not allowed/],
    ["POST", "/v1/keys/k", { value: "v", leaseMs: 1000 }, 405, "invalid", /not allowed/],
    ["GET", "/v1/keys/k/update", undefined, 404, "not_found", /not held/],
    ["PUT", "/v1/status", { a: 1 }, 405, "invalid", /use GET/],
    ["POST", "/metrics", "", 405, "invalid", /use GET/],
  ];
  for (const [method, path, body, status, error, message] of cases) {
    const r = await request(a(1), method, path, body);
    const what = `${method} ${path.slice(0, 40)}`;
    t.is(r.status, status, `${what}: ${r.text}`);
    t.is(r.json.error, error, what);
    t.regex(String(r.json.message), message, what);
  }
  const wrongMethod = await request(a(1), "DELETE", "/v1/keys/k");
  t.is(wrongMethod.headers.allow, "GET, PUT");

  // Still serving, and the process is still up.
  t.is(cluster.agents[1]!.proc.exitCode, null);
  const ok = await request(a(1), "PUT", "/v1/keys/after-bad", { value: "fine", leaseMs: 1000 });
  t.is(ok.status, 200, ok.text);
  const metrics = await request(a(1), "GET", "/metrics");
  t.regex(metrics.text, /locker_http_requests_total\{method="PUT",status="400"\} \d+/);
});
