// Mutex, LeaderElection and withLock on real Lockers over the in-memory
// network and virtual time: waiting, renewal, loss, failover, fencing.
import test from "ava";
import { isLockerError, LockerError } from "../../src/errors.js";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import type { Locker } from "../../src/locker.js";
import { LeaderElection } from "../../src/recipes/election.js";
import { lockerLeaseClient } from "../../src/recipes/locker-client.js";
import { Mutex } from "../../src/recipes/mutex.js";
import { withLock } from "../../src/recipes/with-lock.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { runFor, settle as settleOn } from "../support/virtual-time.js";

function cluster(seed: number) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  // SWIM's view stands in as "crashed nodes are dead", as the agent's membership reports them.
  const c = createMemoryLockers({ net, count: 3, random: new SeededRandom(seed + 1000), options: { maxLeaseMs: 10_000, isVoterAlive: (n) => !net.isCrashed(n) } });
  const names = ["n1", "n2", "n3"];
  /** A recipe's view of node i: its Locker as a LeaseClient, its clock, a seeded random. */
  let streams = 0;
  const on = (i: number) => ({
    client: lockerLeaseClient(c.lockers[i] as Locker),
    clock: net.nodeClock(names[i]!),
    // A stream per recipe object: holder ids must differ between holders.
    random: new SeededRandom(seed * 100 + streams++),
  });
  return { clock, net, names, on, ...c };
}

/** Runs virtual time in 1 ms steps until `p` settles (or `limitMs` passes). */
const settle = <T>(clock: VirtualClock, p: Promise<T>, limitMs = 60_000): Promise<T> => settleOn(clock, p, limitMs, 1);

test("a waiting mutex gets the key when the holder releases it, with a larger token", async (t) => {
  const { clock, on } = cluster(1);
  const a = new Mutex(on(0).client, "job", { leaseMs: 1000, ...on(0) });
  const b = new Mutex(on(1).client, "job", { leaseMs: 1000, ...on(1) });
  const ta = await settle(clock, a.acquire());
  t.true(a.held);
  const waiting = b.acquire({ timeoutMs: 10_000 });
  await runFor(clock, 2500); // several lease lengths: a renews, b keeps waiting
  t.true(a.held, "renewal keeps the lock past its first lease");
  t.is(b.state, "acquiring");
  await settle(clock, a.release());
  const tb = await settle(clock, waiting);
  t.true(b.held);
  t.true(tb > ta, "the next holder's fencing token is larger");
  t.is(a.state, "released");
  await settle(clock, b.release());
});

test("acquire gives up with timeout; tryAcquire answers false", async (t) => {
  const { clock, on } = cluster(2);
  const a = new Mutex(on(0).client, "k", { leaseMs: 1000, ...on(0) });
  const b = new Mutex(on(1).client, "k", { leaseMs: 1000, ...on(1) });
  await settle(clock, a.acquire());
  t.false(await settle(clock, b.tryAcquire()));
  const t0 = clock.now();
  const err = await settle(clock, b.acquire({ timeoutMs: 700 })).catch((e: unknown) => e);
  t.true(isLockerError(err, "timeout"), String(err));
  t.true(clock.now() - t0 >= 700);
  t.is(b.state, "idle");
  await settle(clock, a.release());
});

test("a holder cut off from the voters is told it lost the lock before anyone else gets it", async (t) => {
  const { clock, net, on } = cluster(3);
  const a = new Mutex(on(0).client, "k", { leaseMs: 1000, ...on(0) });
  const b = new Mutex(on(1).client, "k", { leaseMs: 1000, ...on(1) });
  const ta = await settle(clock, a.acquire());
  let lostAt: number | undefined;
  let lostReason: Error | undefined;
  a.on("lost", (r) => {
    lostAt = clock.now();
    lostReason = r;
  });
  net.partition(["n1"], ["n2", "n3"]);
  const tb = await settle(clock, b.acquire({ timeoutMs: 20_000 }));
  const bAt = clock.now();
  t.true(a.signal!.aborted, "the abort signal fired");
  t.truthy(lostReason);
  t.not(lostAt, undefined);
  t.true(lostAt! <= bAt, `a learned of the loss (${lostAt}) no later than b acquired (${bAt})`);
  t.true(tb > ta);
  t.is(a.state, "lost");
  await settle(clock, b.release());
});

test("withLock serializes overlapping callers and releases even when the function throws", async (t) => {
  const { clock, on } = cluster(4);
  let inside = 0;
  let maxInside = 0;
  const tokens: bigint[] = [];
  const work = (i: number) => {
    const node = on(i % 3);
    return withLock(
      node.client,
      "section",
      async (_signal, token) => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        tokens.push(token);
        await new Promise<void>((r) => node.clock.setTimer(300, r));
        inside--;
        if (i === 1) throw new Error("boom");
        return i;
      },
      { leaseMs: 1000, timeoutMs: 30_000, ...node },
    );
  };
  const results = await settle(clock, Promise.allSettled([work(0), work(1), work(2), work(3)]));
  t.is(maxInside, 1, "never two holders at once");
  t.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled", "fulfilled"],
  );
  t.deepEqual([...tokens].sort((x, y) => (x < y ? -1 : 1)), tokens, "tokens increase in the order of holding");
  t.is(new Set(tokens).size, 4);
  // Released after the throw: a fresh mutex gets the key at once.
  const m = new Mutex(on(0).client, "section", { leaseMs: 1000, ...on(0) });
  t.true(await settle(clock, m.tryAcquire()));
});

test("leader election: one leader, everyone learns it, and a crashed leader is replaced within about a lease", async (t) => {
  const { clock, net, names, on } = cluster(5);
  const leaseMs = 2000;
  const elections = [0, 1, 2].map((i) => new LeaderElection(on(i).client, "scheduler", { leaseMs, candidate: names[i]!, ...on(i) }));
  const elected: string[] = [];
  elections.forEach((e) => e.on("elected", () => elected.push(e.candidate)));
  const campaigns = elections.map((e) => e.campaign().catch(() => 0n));
  await runFor(clock, 3000);
  t.is(elected.length, 1, `exactly one elected: ${elected.join(",")}`);
  const first = elected[0]!;
  const leaderIdx = names.indexOf(first);
  t.true(elections[leaderIdx]!.isLeader);
  for (const e of elections) t.is(e.leader(), first, `${e.candidate} knows the leader`);

  const lostBy: string[] = [];
  elections.forEach((e) => e.on("lost", () => lostBy.push(e.candidate)));
  const crashedAt = clock.now();
  net.crash(first);
  let secondAt: number | undefined;
  const others = elections.filter((_, i) => i !== leaderIdx);
  others.forEach((e) => e.once("elected", () => (secondAt ??= clock.now())));
  await runFor(clock, leaseMs * 3);
  t.is(elected.length, 2, `one new leader: ${elected.join(",")}`);
  const second = elected[1]!;
  t.not(second, first);
  t.true(secondAt! - crashedAt <= leaseMs + 500, `failover took ${secondAt! - crashedAt} ms, lease ${leaseMs} ms`);
  for (const e of others) t.is(e.leader(), second);
  t.deepEqual(lostBy, [], "the survivors never lost anything");

  // Resigning hands over at once (the waiting candidate sees the release).
  const secondElection = elections[names.indexOf(second)]!;
  const third = others.find((e) => e !== secondElection)!;
  const before = elected.length;
  const resignedAt = clock.now();
  await settle(clock, secondElection.resign());
  await runFor(clock, 500);
  t.is(elected.length, before + 1);
  t.is(elected[elected.length - 1], third.candidate);
  t.true(clock.now() - resignedAt < leaseMs, "handover after resign does not wait for the lease");
  t.false(secondElection.isLeader);
  await settle(clock, third.resign());
  void campaigns;
});

test("a mutex rejects bad arguments clearly", (t) => {
  const { on } = cluster(6);
  t.throws(() => new Mutex(on(0).client, "k", { leaseMs: 5 }), { instanceOf: LockerError, message: /leaseMs/ });
  t.throws(() => new Mutex(on(0).client, "k", { leaseMs: 100, renewEveryMs: 100 }), { instanceOf: LockerError, message: /renewEveryMs/ });
});
