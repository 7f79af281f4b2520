// The Locker API on the in-memory network and virtual time: every operation,
// its errors, the local view, events, and the fast path's round-trip count.
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { isLockerError, LockerError } from "../../src/errors.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import type { Locker } from "../../src/locker.js";
import { settle } from "../support/virtual-time.js";

function cluster(seed = 1, count = 3, opts: Parameters<typeof createMemoryLockers>[0]["options"] = {}) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  const c = createMemoryLockers({ net, count, random: new SeededRandom(seed + 1000), options: { maxLeaseMs: 10_000, ...opts } });
  return { clock, net, ...c };
}

/** Runs virtual time until the promise settles. */
async function code(clock: VirtualClock, p: Promise<unknown>): Promise<string> {
  try {
    await settle(clock, p);
    return "ok";
  } catch (e) {
    if (e instanceof LockerError) return e.code;
    throw e;
  }
}

test("lock, read everywhere, update, extend, release", async (t) => {
  const { clock, lockers } = cluster();
  const [a, b, c] = lockers as [Locker, Locker, Locker];
  const r = await settle(clock, a.lock("k", { owner: "a" }, { leaseMs: 1000 }));
  t.deepEqual(r.value, { owner: "a" });
  t.true(r.token > 0n);
  t.true(r.safeUntil <= clock.now() + 1000);
  for (const l of lockers) t.deepEqual((await settle(clock, l.read("k")))?.value, { owner: "a" });
  t.is(await code(clock, b.lock("k", "b", { leaseMs: 1000 })), "locked");
  t.is(await code(clock, b.release("k", "b")), "mismatch");
  t.is(await code(clock, b.update("k", { owner: "zzz" }, "x")), "mismatch");
  const u = await settle(clock, b.update("k", { owner: "a" }, { owner: "a", n: 2 }));
  t.deepEqual(u.value, { owner: "a", n: 2 });
  t.is(u.token, r.token);
  const e = await settle(clock, c.extendLease("k", { n: 2, owner: "a" }, 2000));
  t.is(e.token, r.token);
  await settle(clock, a.release("k", { n: 2, owner: "a" }));
  t.is(await settle(clock, c.read("k")), undefined);
  t.is(await code(clock, a.release("k", { owner: "a" })), "not_found");
  const r2 = await settle(clock, b.lock("k", "b", { leaseMs: 1000 }));
  t.true(r2.token > r.token, "fencing token increases across holders");
});

test("bad arguments are invalid, never a crash", async (t) => {
  const { clock, lockers } = cluster();
  const a = lockers[0]!;
  const bad = async (p: () => Promise<unknown>) => {
    try {
      await settle(clock, p());
      return "ok";
    } catch (e) {
      return isLockerError(e) ? e.code : String(e);
    }
  };
  t.is(await bad(() => a.lock("k".repeat(300), 1, { leaseMs: 100 })), "invalid");
  t.is(await bad(() => a.lock("k", "v".repeat(2000), { leaseMs: 100 })), "invalid");
  t.is(await bad(() => a.lock("k", 1, { leaseMs: 5 })), "invalid");
  t.is(await bad(() => a.lock("k", 1, { leaseMs: 20_000 })), "invalid");
  t.is(await bad(() => a.lock("k", undefined, { leaseMs: 100 })), "invalid");
  t.is(await bad(() => a.lock("", 1, { leaseMs: 100 })), "invalid");
  t.is(await bad(() => a.lock("k", () => 1, { leaseMs: 100 })), "invalid");
  t.is(await bad(() => a.read("k", { timeoutMs: -1 })), "invalid");
  t.is(await bad(() => a.lock(42 as unknown as string, 1, { leaseMs: 100 })), "invalid");
});

test("fast path: a second change of a quiet key by the same node is one round trip", async (t) => {
  const { clock, net, lockers } = cluster(7);
  const a = lockers[0]!;
  await settle(clock, a.lock("fp", "v1", { leaseMs: 5000 }));
  const s1 = { ...a.cas.stats };
  t.is(s1.preparePhases, 1);
  t.is(s1.acceptPhases, 1);
  const sent1 = net.counters.sent;
  await settle(clock, a.update("fp", "v1", "v2"));
  const s2 = a.cas.stats;
  t.is(s2.preparePhases - s1.preparePhases, 0, "no prepare");
  t.is(s2.acceptPhases - s1.acceptPhases, 1, "one accept phase");
  t.is(s2.fastRounds, 1);
  // 2 remote voters: one request and one response each (batched datagrams).
  t.log(`datagrams for the fast-path change: ${net.counters.sent - sent1}`);
  t.true(net.counters.sent - sent1 <= 4);
  // A third and fourth change stay on the fast path.
  await settle(clock, a.update("fp", "v2", "v3"));
  await settle(clock, a.release("fp", "v3"));
  t.is(a.cas.stats.preparePhases, 1);
  t.is(a.cas.stats.fastRounds, 3);
  // Another node's change takes the promise away: the next change falls back once.
  const b = lockers[1]!;
  await settle(clock, b.lock("fp", "b", { leaseMs: 5000 }));
  t.is(await code(clock, a.lock("fp", "a", { leaseMs: 5000 })), "locked");
  t.true(a.cas.stats.fastFallbacks >= 0);
});

test("lease expiry: gone on every node, lockable again, token increases", async (t) => {
  const { clock, lockers } = cluster(3);
  const [a, b] = lockers as [Locker, Locker];
  const r = await settle(clock, a.lock("e", "a", { leaseMs: 200 }));
  t.truthy(b.dirtyRead("e"));
  clock.runFor(250);
  for (const l of lockers) t.is(l.dirtyRead("e"), undefined);
  t.is(await settle(clock, b.read("e")), undefined);
  const r2 = await settle(clock, b.lock("e", "b", { leaseMs: 200 }));
  t.true(r2.token > r.token);
});

test("waitFor and waitForRelease on the local view", async (t) => {
  const { clock, lockers } = cluster(4);
  const [a, b, c] = lockers as [Locker, Locker, Locker];
  const w = c.waitFor("w", 5000);
  await settle(clock, a.lock("w", 42, { leaseMs: 300 }));
  t.is(await settle(clock, w), 42);
  const rel = b.waitForRelease("w", 5000);
  await settle(clock, a.release("w", 42));
  await settle(clock, rel);
  await settle(clock, a.lock("w", 43, { leaseMs: 300 }));
  const exp = b.waitForRelease("w", 5000);
  const t0 = clock.now();
  await settle(clock, exp);
  t.true(clock.now() - t0 >= 250);
  const timeout = c.waitFor("never", 100);
  t.is(await code(clock, timeout), "timeout");
});

test("events: acquired, changed, released, expired", async (t) => {
  const { clock, lockers } = cluster(5);
  const [a, b] = lockers as [Locker, Locker];
  const seen: string[] = [];
  b.on("acquired", (e) => seen.push(`acquired ${e.key} ${String(e.value)}`));
  b.on("released", (e) => seen.push(`released ${e.key}`));
  b.on("expired", (e) => seen.push(`expired ${e.key}`));
  await settle(clock, a.lock("x", "1", { leaseMs: 100 }));
  await settle(clock, a.release("x", "1"));
  await settle(clock, a.lock("x", "2", { leaseMs: 100 }));
  clock.runFor(200);
  t.deepEqual(seen, ["acquired x 1", "released x", "acquired x 2", "expired x"]);
});

test("no quorum: two of three voters down", async (t) => {
  const { clock, net, lockers } = cluster(6);
  const [a] = lockers as [Locker];
  await settle(clock, a.lock("q", "v", { leaseMs: 5000 }));
  net.crash("n2");
  t.is(await code(clock, a.update("q", "v", "w", { timeoutMs: 1000 })), "ok");
  net.crash("n3");
  const c = await code(clock, a.update("q", "w", "z", { timeoutMs: 1000 }));
  t.true(c === "timeout" || c === "no_quorum", c);
  t.is(await code(clock, a.read("q", { timeoutMs: 1000 })), "no_quorum");
  t.deepEqual(a.dirtyRead("q")?.value !== undefined, true);
});

test("concurrent locks: exactly one wins", async (t) => {
  const { clock, lockers } = cluster(8);
  const ps = lockers.map((l, i) => l.lock("c", `v${i}`, { leaseMs: 5000 }).then((r) => r.value, (e: LockerError) => e.code));
  const results = await settle(clock, Promise.all(ps));
  const winners = results.filter((r) => typeof r === "string" && r.startsWith("v"));
  t.is(winners.length, 1, JSON.stringify(results));
  for (const l of lockers) t.is((await settle(clock, l.read("c")))?.value, winners[0]);
});

test("lag and summary", async (t) => {
  const { clock, lockers } = cluster(9);
  const a = lockers[0]!;
  const lag = await settle(clock, a.lag());
  t.true(lag > 0 && lag < 10, `lag ${lag}`);
  await settle(clock, a.lock("s1", 1, { leaseMs: 1000 }));
  await settle(clock, a.lock("s2", 2, { leaseMs: 1000 }));
  const s = a.summary();
  t.is(s.leases, 2);
  t.is(s.pendingRounds, 0);
  t.is(s.quorum, 2);
  t.is(s.voters, 3);
  t.true(s.voter);
  t.false(s.quiet);
  t.is(s.fastPathKeys, 2);
  t.is(s.stats.operations, 2);
});

test("a non-voter coordinates rounds with the voters and sees its own results locally", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(11) });
  const c = createMemoryLockers({ net, count: 4, voterCount: 3, random: new SeededRandom(12), options: { maxLeaseMs: 10_000 } });
  const replica = c.lockers[3]!;
  t.false(replica.summary().voter);
  const r = await settle(clock, replica.lock("nv", "replica", { leaseMs: 500 }));
  t.true(r.token > 0n);
  t.is(replica.dirtyRead("nv")?.value, "replica");
  t.is((await settle(clock, c.lockers[0]!.read("nv")))?.value, "replica");
  clock.runFor(600);
  t.is(replica.dirtyRead("nv"), undefined);
});
