// The Locker under faults on the in-memory network (virtual time): voter
// restarts and the quiet period, tokens across garbage collection, loss and
// duplication, contention, liveness fail-fast, configuration versions, bounds.
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { Locker } from "../../src/locker.js";
import { LockerError } from "../../src/errors.js";
import { casCodec } from "../../src/cas/messages.js";
import { MAX_BALLOT_AHEAD_MS } from "../../src/cas/ballot.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { ChannelId } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

async function outcome(clock: VirtualClock, p: Promise<unknown>): Promise<string> {
  try {
    await settle(clock, p, 120_000);
    return "ok";
  } catch (e) {
    if (e instanceof LockerError) return e.code;
    throw e;
  }
}

function setup(seed: number, opts: Parameters<typeof createMemoryLockers>[0]["options"] = {}, count = 3) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  const c = createMemoryLockers({ net, count, random: new SeededRandom(seed + 99), options: { maxLeaseMs: 2000, ...opts } });
  return { clock, net, ...c };
}

test("fencing tokens keep increasing across expiry and garbage collection", async (t) => {
  const { clock, lockers } = setup(1, { gcGraceMs: 2500 });
  const [a, b] = lockers as [Locker, Locker];
  const r1 = await settle(clock, a.lock("k", "a", { leaseMs: 100 }));
  // Past the lease and the grace period: every acceptor forgot the key.
  clock.runFor(5000);
  for (const l of lockers) t.is(l.cas.acceptor!.inspect("k"), undefined);
  // Even a node whose HLC lags (wall clock set back) gets a higher token: the floor forces it.
  // (Back by less than MAX_BALLOT_AHEAD_MS: further, the floor's ballot is implausibly far ahead
  // of every clock and is refused rather than adopted — ballot-bounds.test.ts.)
  for (const l of lockers) (l as unknown as { clock: { wallSkewMs: number } }).clock.wallSkewMs = -MAX_BALLOT_AHEAD_MS / 2;
  const r2 = await settle(clock, b.lock("k", "b", { leaseMs: 100 }));
  t.true(r2.token > r1.token, `${r2.token} > ${r1.token}`);
});

test("a restarted voter keeps quiet for maxLeaseMs, so a lease it forgot cannot be taken twice", async (t) => {
  const { clock, net, lockers, restart } = setup(2);
  const [a, b] = lockers as [Locker, Locker];
  await settle(clock, a.lock("k", "a", { leaseMs: 2000 }));
  // n3 and n2 lose their memory (crash-restart); n1 is cut off.
  net.crash("n2");
  net.crash("n3");
  clock.runFor(10);
  const n2 = restart("n2");
  const n3 = restart("n3");
  t.true(n2.summary().quiet);
  net.partition(["n1"], ["n2", "n3"]);
  // Two amnesiac voters could form a majority and hand the key out again — the quiet period stops it.
  t.not(await outcome(clock, n2.lock("k", "n2", { leaseMs: 500, timeoutMs: 1000 })), "ok");
  net.heal();
  void b; // the crashed instance is gone with its clock
  // After the quiet period they vote again, and the old lease has run out.
  clock.runFor(2000);
  t.false(n3.summary().quiet);
  t.is(await outcome(clock, n3.lock("k", "n3", { leaseMs: 500 })), "ok");
});

test("loss, duplication and reordering: concurrent lockers, exactly one holder at a time", async (t) => {
  const { clock, net, lockers } = setup(3, {}, 5);
  net.setFaults({ lossRate: 0.2, duplicateRate: 0.2, reorderRate: 0.3, reorderDelayMs: 20, maxDelayMs: 5 });
  for (let round = 0; round < 5; round++) {
    const key = `k${round}`;
    const results = await settle(
      clock,
      Promise.all(lockers.map((l, i) => l.lock(key, `v${i}`, { leaseMs: 2000, timeoutMs: 5000 }).then((r) => r.value as string, (e: LockerError) => e.code))),
    );
    const winners = results.filter((r) => r.startsWith("v"));
    t.true(winners.length <= 1, JSON.stringify(results));
    const losers = results.filter((r) => !r.startsWith("v"));
    for (const l of losers) t.true(["locked", "contention", "timeout", "no_quorum"].includes(l), l);
    net.setFaults({ lossRate: 0 });
    const seen = await settle(clock, Promise.all(lockers.map((l) => l.read(key).then((e) => e?.value))));
    net.setFaults({ lossRate: 0.2 });
    t.true(seen.every((s) => s === seen[0]), JSON.stringify(seen));
    if (winners.length === 1) t.is(seen[0], winners[0]);
  }
});

test("liveness hint: a stale view is tried once, briefly; voters really gone fail fast with no_quorum", async (t) => {
  const dead = new Set<string>();
  const { clock, net, lockers } = setup(4, { isVoterAlive: (n) => !dead.has(n) });
  const a = lockers[0]!;
  dead.add("n2");
  t.is(await outcome(clock, a.lock("k", 1, { leaseMs: 100 })), "ok");
  // The hint calls n2 and n3 dead while they answer (SWIM right after a heal): the read still succeeds.
  dead.add("n3");
  t.is(await outcome(clock, a.read("k", { timeoutMs: 3000 })), "ok");
  t.is(a.cas.stats.staleViewTries, 1);
  // Really gone: one request attempt (200 ms), not the 3 s budget.
  net.crash("n2");
  net.crash("n3");
  const t0 = clock.now();
  const e = await settle(clock, a.read("k", { timeoutMs: 3000 })).catch((x: unknown) => x);
  t.true(e instanceof LockerError && e.code === "no_quorum", String(e));
  t.regex((e as Error).message, /unreachable: n2, n3; tried them anyway: no majority answered/);
  t.true(clock.now() - t0 <= 300, `failed after ${clock.now() - t0} ms, not after the 3 s budget`);
});

test("a voter on another configuration version refuses; the caller gets unavailable", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(5) });
  const voters = ["n1", "n2", "n3"].map((name) => ({ name, address: name }));
  const mk = (name: string, configVersion: number) =>
    new Locker({
      name,
      channel: net.transport(name).channel(ChannelId.cas, casCodec),
      clock: net.nodeClock(name),
      random: new SeededRandom(name.length),
      voters,
      configVersion,
      quietPeriodMs: 0,
    });
  const a = mk("n1", 1);
  mk("n2", 2);
  mk("n3", 2);
  t.is(await outcome(clock, a.lock("k", 1, { leaseMs: 100 })), "unavailable");
});

test("bounds: pending operations, queue per key, datagram size", async (t) => {
  const { clock, lockers } = setup(6, { limits: { maxPendingRounds: 3, maxQueuedPerKey: 1 } });
  const a = lockers[0]!;
  const ps = [a.lock("a", 1, { leaseMs: 100 }), a.lock("b", 1, { leaseMs: 100 }), a.lock("c", 1, { leaseMs: 100 })];
  t.is(await outcome(clock, a.lock("d", 1, { leaseMs: 100 })), "unavailable");
  await settle(clock, Promise.allSettled(ps));
  const q = [a.read("same"), a.read("same")];
  t.is(await outcome(clock, a.read("same")), "unavailable");
  await settle(clock, Promise.all(q));
  // A value that fits the limit but not one datagram with a small MTU is refused up front.
  const clock2 = new VirtualClock();
  const net2 = new MemoryNetwork({ clock: clock2, random: new SeededRandom(1) });
  const small = createMemoryLockers({ net: net2, count: 3, transportOptions: { maxDatagramBytes: 600 } });
  const e = await outcome(clock2, small.lockers[0]!.lock("k", "x".repeat(1000), { leaseMs: 100 }));
  t.is(e, "invalid");
  t.is(await outcome(clock2, small.lockers[0]!.lock("k", "x".repeat(100), { leaseMs: 100 })), "ok");
});

test("many keys at once from every node: all succeed and the voters agree", async (t) => {
  const { clock, lockers } = setup(7);
  const ops: Array<Promise<unknown>> = [];
  for (let i = 0; i < 300; i++) ops.push(lockers[i % 3]!.lock(`key${i}`, i, { leaseMs: 2000 }));
  const res = await settle(clock, Promise.allSettled(ops));
  t.is(res.filter((r) => r.status === "fulfilled").length, 300);
  for (const l of lockers) t.is(l.keys("key").length, 300);
  t.is(lockers[0]!.summary().leases, 300);
});
