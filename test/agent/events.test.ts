// The live event stream: GET /v1/events (Server-Sent Events) and `locker
// watch` print members' changes and keys taken, released and expired, with
// election leaders; internal keys never appear; bad queries get 400, too
// many streams from one source 429.
import test from "ava";
import http from "node:http";
import { EventEmitter } from "node:events";
import { EventHub, MAX_EVENT_STREAMS_PER_SOURCE, type AgentEvent } from "../../src/agent/events.js";
import { eventually, ready, request, spawnAgent, startCli, startCluster, tempDir } from "./harness.js";

/** An open SSE stream: its parsed events so far. */
function openStream(address: string, path: string): Promise<{ events: AgentEvent[]; status: number; close(): void; body(): string }> {
  const [host, port] = address.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const events: AgentEvent[] = [];
    let raw = "";
    const req = http.get({ host, port: Number(port), path, headers: { accept: "text/event-stream" } }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        raw += c;
        for (const block of raw.split("\n\n").slice(0, -1)) {
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (data) events.push(JSON.parse(data.slice(6)) as AgentEvent);
        }
        raw = raw.slice(raw.lastIndexOf("\n\n") + 2);
      });
      res.on("error", () => {});
      resolve({ events, status: res.statusCode ?? 0, close: () => req.destroy(), body: () => raw });
    });
    req.on("error", reject);
  });
}

test("GET /v1/events: a lock, its expiry, a release and an election leader arrive as events; `locker watch` prints the same", async (t) => {
  t.timeout(90_000);
  const dir = tempDir("events");
  t.teardown(() => dir.remove());
  const agent = await spawnAgent({ name: "ev1", args: ["--data-dir", dir.path, "--max-lease", "10s"] });
  t.teardown(() => agent.kill());
  await ready(agent);
  const stream = await openStream(agent.http, "/v1/events");
  t.teardown(() => stream.close());
  t.is(stream.status, 200);
  const watch = startCli(["watch"], { http: agent.http });
  t.teardown(() => watch.proc.kill("SIGKILL"));
  // The CLI is connected once it printed the kept member event (since=0 replays history).
  await eventually("locker watch to connect", async () => (watch.output().includes("member   ev1") ? true : undefined), 20_000);

  t.is((await request(agent.http, "PUT", "/v1/keys/jobs/a", { value: "w1", leaseMs: 300 })).status, 200);
  t.is((await request(agent.http, "PUT", "/v1/keys/jobs/b", { value: "w2", leaseMs: 5000 })).status, 200);
  t.is((await request(agent.http, "POST", "/v1/keys/jobs/b/release", { value: "w2" })).status, 200);
  t.is((await request(agent.http, "PUT", "/v1/keys/election/web", { value: "alice", leaseMs: 5000 })).status, 200);

  const seen = await eventually("the four kinds of key events", async () => {
    const kinds = stream.events.map((e) => `${e.type} ${"key" in e ? e.key : "election" in e ? e.election : ""}`);
    return ["acquired jobs/a", "expired jobs/a", "acquired jobs/b", "released jobs/b", "leader web"].every((k) => kinds.includes(k)) ? kinds : undefined;
  }, 20_000);
  t.log(seen.join(" | "));
  const lock = stream.events.find((e) => e.type === "acquired" && e.key === "jobs/a");
  t.like(lock, { value: "w1" });
  // The lease left when this node saw the grant: 300 ms less the moments between the accept and the event (a busy CI core).
  const leaseMs = (lock as { leaseMs: number }).leaseMs;
  t.true(leaseMs <= 300 && leaseMs >= 250, `leaseMs ${leaseMs}`);
  const leader = stream.events.find((e) => e.type === "leader");
  t.like(leader, { election: "web", leader: "alice" });
  t.true(stream.events.every((e) => !("key" in e) || e.key.charCodeAt(0) !== 0), "no internal key");
  const ids = stream.events.map((e) => e.id);
  t.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids increase");

  const printed = await eventually("locker watch to print them", async () => {
    const out = watch.output();
    return ["acquired jobs/a = w1", "expired  jobs/a", "released jobs/b", "leader   web: alice"].every((s) => out.includes(s)) ? out : undefined;
  }, 20_000);
  t.log(printed.trim().split("\n").slice(-5).join("\n"));

  // A prefix filter, and a reconnect that resumes after the last id it saw.
  const jobs = await openStream(agent.http, `/v1/events?prefix=jobs/&since=0`);
  t.teardown(() => jobs.close());
  await eventually("the replay of jobs/ events", async () => (jobs.events.length >= 4 ? true : undefined), 10_000);
  t.true(jobs.events.every((e) => "key" in e && e.key.startsWith("jobs/")), JSON.stringify(jobs.events));
  const after = await openStream(agent.http, `/v1/events?since=${ids[ids.length - 1]}`);
  t.teardown(() => after.close());
  t.is((await request(agent.http, "PUT", "/v1/keys/late", { value: 1, leaseMs: 5000 })).status, 200);
  await eventually("only the new event", async () => (after.events.length > 0 ? true : undefined), 10_000);
  t.deepEqual(after.events.map((e) => e.type), ["acquired"]);
});

test("GET /v1/events: bad queries get 400; past the per-source bound 429", async (t) => {
  t.timeout(60_000);
  const dir = tempDir("events-bounds");
  t.teardown(() => dir.remove());
  const agent = await spawnAgent({ name: "ev2", args: ["--data-dir", dir.path] });
  t.teardown(() => agent.kill());
  await ready(agent);
  for (const path of ["/v1/events?since=abc", "/v1/events?bogus=1", `/v1/events?prefix=${"k".repeat(300)}`]) {
    const r = await request(agent.http, "GET", path);
    t.is(r.status, 400, path);
    t.is(r.json.error, "invalid");
  }
  t.is((await request(agent.http, "POST", "/v1/events")).status, 405);
  const open = await Promise.all(Array.from({ length: MAX_EVENT_STREAMS_PER_SOURCE }, () => openStream(agent.http, "/v1/events")));
  t.teardown(() => open.forEach((s) => s.close()));
  t.true(open.every((s) => s.status === 200));
  const refused = await request(agent.http, "GET", "/v1/events");
  t.is(refused.status, 429, refused.text);
  open[0]!.close();
  await eventually("a slot to free up", async () => ((await request(agent.http, "GET", "/v1/health")).status === 200 ? true : undefined));
});

test("EventHub: internal keys are never published; the history is bounded", (t) => {
  const hub = new EventHub(() => 1000);
  t.teardown(() => hub.close());
  const locker = new EventEmitter();
  hub.attachLocker(locker as never);
  locker.emit("acquired", { key: "\u0000cfg/2", value: 1, token: 5n, leaseRemainingMs: 100 });
  locker.emit("released", { key: "\u0000cfg/2", value: 1 });
  t.deepEqual(hub.recent(), []);
  for (let i = 0; i < 2000; i++) locker.emit("acquired", { key: `k${i}`, value: i, token: BigInt(i), leaseRemainingMs: 10 });
  const kept = hub.recent();
  t.true(kept.length <= 512);
  t.is((kept[kept.length - 1] as { key: string }).key, "k1999");
});

test("a 3-node cluster: a member's death reaches the stream of the others", async (t) => {
  t.timeout(120_000);
  const cluster = await startCluster("evc", 3);
  t.teardown(() => cluster.stop());
  const [n1, , n3] = cluster.agents as [(typeof cluster.agents)[0], (typeof cluster.agents)[0], (typeof cluster.agents)[0]];
  const stream = await openStream(n1.http, "/v1/events");
  t.teardown(() => stream.close());
  await n3.kill("SIGKILL");
  const states = await eventually(`${n3.name} suspect then dead on ${n1.name}'s stream`, async () => {
    const s = stream.events.filter((e) => e.type === "member" && e.member === n3.name).map((e) => (e as { state: string }).state);
    return s.includes("dead") ? s : undefined;
  }, 60_000);
  t.log(`${n3.name}: ${states.join(" → ")}`);
  t.true(states.indexOf("suspect") < states.indexOf("dead"), "suspected before dead");
});
