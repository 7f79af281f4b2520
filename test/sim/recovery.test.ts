// Voter recovery (src/cas/recovery.ts) on the in-memory network, step by
// step: a restarted voter votes again after a few round trips instead of the
// quiet period, and what it forgot stays chosen. The seeded runs of
// cas.test.ts cover recovery under the whole nemesis; these pin the cases
// the argument in recovery.ts rests on, and show the simulator catches a
// recovery that skips its rewrite.
import test from "ava";
import { LockerError } from "../../src/errors.js";
import { Locker, type LockResult } from "../../src/locker.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { runUntil } from "./cluster.js";
import type { BallotFloorStore } from "../../src/cas/floor-store.js";

const MAX_LEASE_MS = 2000;

interface Cluster {
  clock: VirtualClock;
  net: MemoryNetwork;
  lockers: Map<string, Locker>;
  start(name: string, first: boolean, recovery?: { unsafeSkipRewrite?: boolean; enabled?: boolean }, ballotFloor?: BallotFloorStore): Locker;
  settle<T>(p: Promise<T>, withinMs?: number): Promise<T | LockerError>;
}

function cluster(seed: number, names = ["n1", "n2", "n3"]): Cluster {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  const voters = names.map((name) => ({ name, address: name }));
  const random = new SeededRandom(seed + 1);
  const lockers = new Map<string, Locker>();
  const c: Cluster = {
    clock,
    net,
    lockers,
    start(name, first, recovery, ballotFloor) {
      const locker = new Locker({
        name,
        channel: net.transport(name),
        clock: net.nodeClock(name),
        random: random.fork(),
        voters,
        maxLeaseMs: MAX_LEASE_MS,
        quietPeriodMs: first ? 0 : undefined,
        limits: { minLeaseMs: 10, maxTimeoutMs: 1000 },
        defaultTimeoutMs: 500,
        recovery: { maxClockSkewMs: 100, requestTimeoutMs: 300, ...recovery },
        ...(ballotFloor ? { ballotFloor } : {}),
      });
      lockers.set(name, locker);
      return locker;
    },
    async settle<T>(p: Promise<T>, withinMs = 2000): Promise<T | LockerError> {
      let out: { v: T } | { e: unknown } | undefined;
      p.then(
        (v) => (out = { v }),
        (e: unknown) => (out = { e }),
      );
      await runUntil(clock, clock.now() + withinMs, () => out !== undefined);
      if (!out) throw new Error("did not settle");
      if ("v" in out) return out.v;
      if (out.e instanceof LockerError) return out.e;
      throw out.e;
    },
  };
  for (const n of names) c.start(n, true);
  return c;
}

/**
 * n3 is cut off while n1 takes "k" (chosen on n1 and n2 only), then n2
 * restarts with empty memory and n3 comes back. Once n2 votes again, n1 is
 * cut off: the quorum {n2, n3} must still see "k" held.
 */
async function forgottenByTheRestart(seed: number, recovery: { unsafeSkipRewrite?: boolean }) {
  const c = cluster(seed);
  c.net.partition(["n1", "n2"], ["n3"]);
  const first = (await c.settle(c.lockers.get("n1")!.lock("k", "first", { leaseMs: MAX_LEASE_MS }))) as LockResult;
  if (first instanceof LockerError) throw first;
  c.net.heal();
  c.net.crash("n2");
  const restartedAt = c.clock.now();
  const n2 = c.start("n2", false, recovery);
  await runUntil(c.clock, c.clock.now() + MAX_LEASE_MS, () => n2.cas.recoveryStatus.state === "recovered");
  const recoveredAfterMs = c.clock.now() - restartedAt;
  c.net.partition(["n1"], ["n2", "n3"]);
  const second = await c.settle(n2.lock("k", "second", { leaseMs: 100 }));
  const read = await c.settle(n2.read("k"));
  return { first, second, read, recoveredAfterMs, status: n2.cas.recoveryStatus, quietLeftMs: n2.cas.acceptor!.config.quietUntil - c.clock.now() };
}

test("a restarted voter recovers in a few round trips and votes at once; a lock chosen without the third voter is still held", async (t) => {
  const r = await forgottenByTheRestart(5, {});
  t.is(r.status.state, "recovered");
  t.is(r.status.attempts, 1);
  t.is(r.status.keys, 1, "the one key the others hold was read back");
  // The memory network takes 0.2–2 ms a hop: fence, listing and one read are a handful of round trips.
  t.true(r.recoveredAfterMs < 50, `recovery took ${r.recoveredAfterMs} ms`);
  t.true(r.quietLeftMs <= 0, "it votes before its quiet period would have ended");
  t.true(r.second instanceof LockerError && r.second.code === "locked", `the second lock: ${String(r.second)}`);
  const read = r.read as { value: unknown; token: bigint } | undefined;
  t.is(read?.value, "first");
  t.is(read?.token, r.first.token);
});

test("the same steps with the rewrite skipped hand the lock out twice (the simulator catches a recovery that only fences)", async (t) => {
  const r = await forgottenByTheRestart(5, { unsafeSkipRewrite: true });
  t.is(r.status.state, "recovered");
  t.false(r.second instanceof LockerError, "without the rewrite the quorum {n2, n3} does not see the lock");
});

test("without recovery the restarted voter sits out its quiet period, and the minority cannot lock", async (t) => {
  const c = cluster(9);
  c.net.crash("n2");
  const n2 = c.start("n2", false, { enabled: false });
  await runUntil(c.clock, c.clock.now() + 200);
  t.true(n2.cas.quiet);
  c.net.partition(["n1"], ["n2", "n3"]);
  const r = await c.settle(n2.lock("k", "v", { leaseMs: 100 }));
  // Without a liveness hint n1 counts as alive, so the round runs and n2's own acceptor refuses it.
  t.true(r instanceof LockerError && r.code === "no_quorum", String(r));
  t.is(n2.cas.recoveryStatus.state, "not needed");
});

test("a voter restarting while another is down cannot recover (both others are needed with 3 voters); it recovers once the other is back", async (t) => {
  const c = cluster(11);
  c.net.crash("n3");
  c.net.crash("n2");
  const n2 = c.start("n2", false);
  await runUntil(c.clock, c.clock.now() + 600);
  t.is(n2.cas.recoveryStatus.state, "recovering");
  t.true(n2.cas.recoveryStatus.attempts >= 2);
  t.regex(n2.cas.recoveryStatus.lastError ?? "", /fenced 1 of the 2 other voters needed/);
  t.regex(n2.cas.quietReason(), /voting again in 2 s unless it recovers from the other voters first \(attempt \d+: fenced 1 of the 2 other voters needed \(n3: /);
  c.start("n3", true); // back, as a voter that never voted (it lost nothing)
  await runUntil(c.clock, c.clock.now() + 3000, () => n2.cas.recoveryStatus.state === "recovered");
  t.is(n2.cas.recoveryStatus.state, "recovered");
  t.false(n2.cas.quiet);
});

test("a single voter cannot recover from anyone: it says so and waits out its quiet period", async (t) => {
  const c = cluster(13, ["solo"]);
  c.net.crash("solo");
  const solo = c.start("solo", false);
  t.is(solo.cas.recoveryStatus.state, "impossible");
  const r = await c.settle(solo.lock("k", "v", { leaseMs: 100 }));
  t.true(r instanceof LockerError && r.code === "no_quorum");
  t.regex((r as LockerError).message, /quiet period after a restart, voting again in 2 s \(a single voter has no other voter to recover from\)/);
});

test("many keys: the listing comes in pages, every key is read back, and locks held before the restart stay held", async (t) => {
  const c = cluster(17);
  const n1 = c.lockers.get("n1")!;
  const keys = Array.from({ length: 300 }, (_, i) => `${"x".repeat(150)}-${i}`);
  c.net.partition(["n1", "n2"], ["n3"]);
  for (let i = 0; i < keys.length; i += 30) {
    const batch = await c.settle(Promise.all(keys.slice(i, i + 30).map((k) => n1.lock(k, "held", { leaseMs: MAX_LEASE_MS }))), 3000);
    if (batch instanceof LockerError) throw batch;
  }
  c.net.heal();
  c.net.crash("n2");
  const n2 = c.start("n2", false);
  await runUntil(c.clock, c.clock.now() + 1500, () => n2.cas.recoveryStatus.state === "recovered");
  t.is(n2.cas.recoveryStatus.state, "recovered");
  t.is(n2.cas.recoveryStatus.keys, keys.length);
  c.net.partition(["n1"], ["n2", "n3"]);
  let locked = 0;
  for (const k of keys.slice(0, 50)) {
    const r = await c.settle(n2.lock(k, "again", { leaseMs: 100 }));
    if (r instanceof LockerError && r.code === "locked") locked++;
  }
  t.is(locked, 50);
});

test("a fenced voter refuses rounds below the floor; its own rounds and everyone's after them go on above it", async (t) => {
  const c = cluster(19);
  const n1 = c.lockers.get("n1")!;
  const before = (await c.settle(n1.lock("k", "a", { leaseMs: 100 }))) as LockResult;
  c.net.crash("n2");
  const n2 = c.start("n2", false);
  await runUntil(c.clock, c.clock.now() + 500, () => n2.cas.recoveryStatus.state === "recovered");
  const floor = n2.cas.acceptor!.floor!;
  t.truthy(floor);
  // Every fenced voter promised at least the floor on "k".
  for (const name of ["n1", "n3"]) {
    const s = c.lockers.get(name)!.cas.acceptor!.inspect("k");
    t.true(s !== undefined && s.promised !== null && s.promised.c >= floor.c, `${name} promised ${JSON.stringify(s?.promised)} below ${floor.c}`);
  }
  await runUntil(c.clock, c.clock.now() + 200); // the lease of "a" ends
  const after = (await c.settle(c.lockers.get("n3")!.lock("k", "b", { leaseMs: 100 }))) as LockResult;
  t.false(after instanceof LockerError, String(after));
  t.true(after.token > before.token);
  t.true(after.token >= BigInt(floor.c), "the next token is above the floor");
});

/** A disk that survives the crash: the floor a node wrote last. */
function memoryDisk(): BallotFloorStore & { writes: number } {
  let floor: number | undefined;
  return {
    writes: 0,
    load: () => floor,
    save(c) {
      floor = c;
      this.writes++;
    },
  };
}

/**
 * Every voter's clock runs 5 s ahead while "k" is taken, then all three
 * restart with empty memory and clocks set right (NTP stepped them back):
 * no recovery is possible (all are quiet), and after the quiet period "k" is
 * taken again. Its token must be above the first.
 */
async function fullRestartWithClocksSetBack(persist: boolean): Promise<{ before: bigint; after: bigint; writes: number }> {
  const names = ["n1", "n2", "n3"];
  const c = cluster(23);
  const disks = new Map(names.map((n) => [n, memoryDisk()]));
  for (const n of names) {
    c.net.crash(n);
    c.start(n, true, {}, persist ? disks.get(n) : undefined);
    c.net.nodeClock(n).wallSkewMs = 5000; // after start: a node's start revives its clock
  }
  const before = (await c.settle(c.lockers.get("n1")!.lock("k", "a", { leaseMs: 100 }))) as LockResult;
  if (before instanceof LockerError) throw before;
  for (let i = 0; i < 20; i++) await c.settle(c.lockers.get(names[i % 3]!)!.read("k"));
  for (const n of names) c.net.crash(n);
  await runUntil(c.clock, c.clock.now() + 50);
  for (const n of names) {
    c.start(n, false, {}, persist ? disks.get(n) : undefined);
    c.net.nodeClock(n).wallSkewMs = 0;
  }
  await runUntil(c.clock, c.clock.now() + MAX_LEASE_MS + 50); // the quiet period: nobody could recover
  const after = (await c.settle(c.lockers.get("n2")!.lock("k", "b", { leaseMs: 100 }))) as LockResult;
  if (after instanceof LockerError) throw after;
  return { before: before.token, after: after.token, writes: [...disks.values()].reduce((a, d) => a + d.writes, 0) };
}

test("a full restart of every voter with clocks set back: with the persisted floor the next token is still above the last one", async (t) => {
  const r = await fullRestartWithClocksSetBack(true);
  t.true(r.after > r.before, `token went from ${r.before} to ${r.after}`);
  // Written ahead by a second of ballot time: a handful of writes for 21 rounds, not one per round.
  t.true(r.writes >= 1 && r.writes <= 6, `${r.writes} floor writes`);
  t.log(`tokens ${r.before} → ${r.after}; ${r.writes} floor writes over 3 voters`);
});

test("the same without a persisted floor lets the token go backwards (the documented edge the floor closes)", async (t) => {
  const r = await fullRestartWithClocksSetBack(false);
  t.true(r.after < r.before, `token went from ${r.before} to ${r.after}`);
});

test("no quorum because other voters sit out their quiet period: the answer names them", async (t) => {
  const c = cluster(29);
  for (const n of ["n2", "n3"]) {
    c.net.crash(n);
    c.start(n, false, { enabled: false });
  }
  const r = await c.settle(c.lockers.get("n1")!.lock("k", "v", { leaseMs: 100 }));
  t.true(r instanceof LockerError && r.code === "no_quorum", String(r));
  t.regex((r as LockerError).message, /\(n[23] for 2 s more, n[23] for 2 s more in the quiet period after a restart; 2 refused/);
});
