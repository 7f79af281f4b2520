// The driver and core together on the tiny deterministic network of harness.ts.
import test from "ava";
import { Membership, MembershipError, type MemberEvent } from "../src/index.js";
import { type MembershipConfig } from "../src/config.js";
import { settle, TestClock, TestNetwork, TestRandom } from "./harness.js";

function world(seed = 1, maxMessageBytes = 1400) {
  const clock = new TestClock();
  const random = new TestRandom(seed);
  const net = new TestNetwork(clock, random, maxMessageBytes);
  const nodes: Membership[] = [];
  const events: { at: number; observer: string; e: MemberEvent }[] = [];
  const add = (name: string, config: Partial<MembershipConfig> = {}, meta?: unknown): Membership => {
    const address = `${name}:1`;
    const m = new Membership({ name, address, channel: net.channel(address), clock, random: new TestRandom(random.int(1e9)), profile: "local", config, meta });
    m.on("change", (e: MemberEvent) => events.push({ at: clock.now(), observer: name, e }));
    nodes.push(m);
    return m;
  };
  const cluster = async (n: number, config: Partial<MembershipConfig> = {}): Promise<Membership[]> => {
    const ms = Array.from({ length: n }, (_, i) => add(`n${i}`, config));
    await settle(clock, Promise.all(ms.map((m, i) => m.bootstrap(i === 0 ? [] : ["n0:1"]))), 10_000);
    clock.runFor(3000);
    return ms;
  };
  return { clock, net, nodes, events, add, cluster };
}

test("bootstrap with no seeds starts a cluster of one; members and whoami", async (t) => {
  const w = world();
  const m = w.add("solo");
  await settle(w.clock, m.bootstrap([]), 100);
  t.is(m.whoami(), "solo");
  t.deepEqual(m.members(), []);
  t.is(m.localMember().state, "alive");
  m.close();
});

test("a cluster forms through one seed; every member sees the others alive", async (t) => {
  const w = world(2);
  const ms = await w.cluster(8);
  for (const m of ms) {
    t.is(m.members().filter((x) => x.state === "alive").length, 7);
    t.true(ms.every((o) => o === m || m.isAlive(o.whoami())));
  }
  for (const m of ms) m.close();
});

test("direct probes measure each member's round trip (the test network takes 1 ms each way)", async (t) => {
  const w = world(5);
  const ms = await w.cluster(4);
  w.clock.runFor(5000);
  for (const m of ms) {
    t.is(m.localMember().rttMs, undefined, "no round trip to itself");
    for (const o of m.members()) {
      t.truthy(o.rttMs !== undefined, `${m.whoami()} probed ${o.name}`);
      t.true(Math.abs(o.rttMs! - 2) < 0.01, `${m.whoami()} → ${o.name}: ${o.rttMs} ms`);
    }
  }
  for (const m of ms) m.close();
});

test("bootstrap rejects with join_failed when no seed answers, after bounded attempts", async (t) => {
  const w = world(3);
  const m = w.add("lonely", { joinMaxAttempts: 3, joinRetryIntervalMs: 100 });
  const sentBefore = w.net.sent;
  const err = await t.throwsAsync(settle(w.clock, m.bootstrap(["nobody:1", "nobody-else:1"]), 10_000), { instanceOf: MembershipError });
  t.is((err as MembershipError).code, "join_failed");
  t.regex(err!.message, /nobody:1/);
  t.is(w.net.sent - sentBefore >= 6, true, "3 attempts to each of 2 seeds");
  t.true(w.clock.now() <= 1000);
  m.close();
});

test("any one reachable seed suffices", async (t) => {
  const w = world(4);
  const a = w.add("a");
  await settle(w.clock, a.bootstrap([]), 100);
  const b = w.add("b");
  await settle(w.clock, b.bootstrap(["dead-seed:1", "a:1"]), 5000);
  w.clock.runFor(1000);
  t.true(a.isAlive("b") && b.isAlive("a"));
  a.close();
  b.close();
});

test("graceful leave: others mark the member left and never suspect it", async (t) => {
  const w = world(5);
  const ms = await w.cluster(6);
  const leaver = ms[2]!;
  const since = w.clock.now();
  await settle(w.clock, leaver.leave(), 5000);
  w.clock.runFor(10_000);
  for (const m of ms) if (m !== leaver) t.is(m.member("n2")?.state ?? "forgotten", "left");
  const about = w.events.filter((x) => x.at >= since && x.e.member.name === "n2").map((x) => x.e.type);
  t.false(about.includes("suspect"));
  t.false(about.includes("dead"));
  t.is(about.filter((x) => x === "left").length, 5);
  for (const m of ms) m.close();
});

test("updateMeta reaches every member as an update event; oversized metadata is refused clearly", async (t) => {
  const w = world(6);
  const ms = await w.cluster(5);
  ms[1]!.updateMeta({ role: "voter", zone: "b" });
  w.clock.runFor(2000);
  for (const m of ms) if (m !== ms[1]) t.deepEqual(m.member("n1")?.meta, { role: "voter", zone: "b" });
  t.true(w.events.some((x) => x.e.type === "update" && x.e.member.name === "n1" && x.observer === "n4"));
  const err = t.throws(() => ms[1]!.updateMeta({ blob: "x".repeat(2000) }), { instanceOf: MembershipError });
  t.is((err as MembershipError).code, "invalid");
  t.regex(err!.message, /limit is 512/);
  t.throws(() => w.add("big", {}, { blob: "y".repeat(600) }), { instanceOf: MembershipError });
  for (const m of ms) m.close();
});

test("malformed datagrams are dropped and counted, never thrown", async (t) => {
  const w = world(7);
  const ms = await w.cluster(3);
  const garbage = [new Uint8Array([]), new Uint8Array([0xff, 0x00, 0x13]), new Uint8Array([0x83, 0x00, 0x01]), Uint8Array.from(Buffer.from("hello"))];
  for (const g of garbage) t.notThrows(() => w.net.inject("evil:1", "n0:1", g));
  t.is(ms[0]!.stats().malformed, garbage.length);
  w.clock.runFor(2000);
  t.true(ms[0]!.isAlive("n1"));
  for (const m of ms) m.close();
});

test("push-pull state is chunked within maxMessageBytes: a joiner learns 40 members through 300-byte datagrams", async (t) => {
  const w = world(8, 300);
  const ms = await w.cluster(40, { gossipIntervalMs: 0 });
  w.clock.runFor(5000);
  const late = w.add("late", { gossipIntervalMs: 0 });
  await settle(w.clock, late.bootstrap(["n0:1"]), 2000);
  // The seed's answer alone (before any gossip round) holds everyone.
  w.clock.runFor(50);
  t.is(late.members().filter((x) => x.state === "alive").length, 40);
  t.true(late.stats().received.pushPull > 1, "the state came in several chunks");
  for (const m of [...ms, late]) m.close();
});

test("a crashed member is suspected, then declared dead; a restart under its name rejoins alive", async (t) => {
  const w = world(9);
  const ms = await w.cluster(6);
  w.net.down.add("n3:1");
  ms[3]!.close();
  w.clock.runFor(10_000);
  for (const m of ms) if (m !== ms[3]) t.is(m.member("n3")?.state, "dead");
  w.net.down.delete("n3:1");
  const again = w.add("n3");
  await settle(w.clock, again.bootstrap(["n0:1"]), 5000);
  w.clock.runFor(3000);
  for (const m of ms) if (m !== ms[3]) t.is(m.member("n3")?.state, "alive");
  t.true(again.localMember().incarnation > 0, "it refuted its own death with a higher incarnation");
  for (const m of [...ms, again]) m.close();
});

test("config: profiles resolve, bad knobs get a clear error", async (t) => {
  const { resolveConfig } = await import("../src/config.js");
  t.is(resolveConfig("lan").probeIntervalMs, 1000);
  t.is(resolveConfig("wan").probeIntervalMs, 5000);
  t.is(resolveConfig("local", { probeIntervalMs: 300 }).probeIntervalMs, 300);
  t.throws(() => resolveConfig("lan", { probeTimeoutMs: 2000 }), { message: /probeTimeoutMs must be less than probeIntervalMs/ });
  t.throws(() => resolveConfig("lan", { indirectChecks: -1 }), { message: /indirectChecks/ });
  t.throws(() => resolveConfig("nope" as "lan"), { message: /unknown membership profile/ });
  // The reconnect knobs: documented defaults, and a full config from before reconnectTimeoutMs still resolves.
  t.is(resolveConfig("lan").reconnectIntervalMs, 10_000);
  t.is(resolveConfig("lan").reconnectTimeoutMs, 24 * 3_600_000);
  t.is(resolveConfig("local").reconnectTimeoutMs, 3_600_000);
  const { reconnectTimeoutMs: _omitted, ...old } = resolveConfig("wan");
  t.is(resolveConfig(old as never).reconnectTimeoutMs, 24 * 3_600_000);
  t.throws(() => resolveConfig("lan", { reconnectTimeoutMs: 0 }), { message: /reconnectTimeoutMs/ });
});
